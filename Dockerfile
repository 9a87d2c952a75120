# canaryd's container image: one static-ish binary on a distroless base.
#
#   docker build -t canaryd:0.1.0 .
#   docker run --rm canaryd:0.1.0 version
#
# Stage 1 builds canaryd on Debian 12 with the same packages scripts/deps.sh
# installs; stage 2 copies the binary and the shared libraries it links
# (as ldd resolves them) onto gcr.io/distroless/base-debian12, which already
# has glibc, OpenSSL, CA certificates and the nonroot user (65532). The
# result is about 40 MB and runs with a read-only root filesystem.
# docs/kubernetes.md ("Building the image") explains the options.

ARG DEBIAN=debian:bookworm-slim
ARG RUNTIME=gcr.io/distroless/base-debian12:nonroot

FROM ${DEBIAN} AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential pkg-config cmake ninja-build libjansson-dev libfyaml-dev \
      libcurl4-openssl-dev libssl-dev libmicrohttpd-dev zlib1g-dev node-llhttp libcmocka-dev \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY src src
COPY deploy/crds deploy/crds
# the test, bench and example globs must find their folders (empty is fine)
RUN mkdir -p tests/unit tests/integration tests/tools bench examples fuzz
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCANARYD_WERROR=OFF \
 && cmake --build /build --target canaryd -j"$(nproc)" \
 && strip /build/canaryd \
 && /build/canaryd version
# the binary and every library it needs, at the paths the loader looks in
RUN mkdir -p /out/usr/local/bin \
 && cp /build/canaryd /out/usr/local/bin/canaryd \
 && ldd /build/canaryd | awk '/=> \// {print $3}' | while read -r lib; do \
      mkdir -p "/out$(dirname "$lib")" && cp -L "$lib" "/out$lib"; \
    done

FROM ${RUNTIME}
COPY --from=build /out/ /
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/canaryd"]
CMD ["kube"]
