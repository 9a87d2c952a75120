"""fakekube - the pieces of the fake Kubernetes API server (tests only).

Never imported by canaryd itself; run through ../fake_apiserver.py.
"""
