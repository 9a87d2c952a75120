"""smuggling_cases.py - the request-smuggling matrix of the router's
framing tests (not a test itself): malformed requests that RFC 9112 says
a proxy must not forward, each to be followed on the same connection by a
pipelined request for /smuggled-<name>, and valid requests that must keep
working, each followed by a second request /valid2-<name>.

{H} in a template is the Host the test routes by; {S} is the smuggled
request itself, for the cases that hide it inside a body (a backend that
reads the framing differently from the router would see it as a request).

Also used by fuzz/make_router_corpus.py to seed fuzz_router_request."""

SMUGGLED = "GET /smuggled-{name} HTTP/1.1\r\nHost: {H}\r\n\r\n"
SECOND = "GET /valid2-{name} HTTP/1.1\r\nHost: {H}\r\n\r\n"

POST_TE = "POST /te HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\n"
GET = "GET / HTTP/1.1\r\nHost: {H}\r\n"

# (name, request, status the router answers). 400 unless said otherwise.
MALFORMED = [
    # obsolete line folding
    ("obs_fold_space", GET + "X-A: a\r\n  folded\r\n\r\n", 400),
    ("obs_fold_tab", GET + "X-A: a\r\n\tfolded\r\n\r\n", 400),
    ("obs_fold_te", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
     "0\r\n\r\n", 400),
    ("obs_fold_first_line", "GET / HTTP/1.1\r\n X-A: a\r\nHost: {H}\r\n\r\n", 400),
    ("obs_fold_host", "GET / HTTP/1.1\r\nHost: {H}\r\n x\r\n\r\n", 400),
    ("obs_fold_cl", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length:\r\n 0\r\n\r\n", 400),
    # chunk data terminators
    ("chunk_data_xx", POST_TE + "3\r\nabcXX0\r\n\r\n", 400),
    ("chunk_data_bare_lf", POST_TE + "3\r\nabc\n0\r\n\r\n", 400),
    ("chunk_data_bare_cr", POST_TE + "3\r\nabc\r0\r\n\r\n", 400),
    ("chunk_data_too_long", POST_TE + "3\r\nabcdef\r\n0\r\n\r\n", 400),
    ("chunk_data_too_short", POST_TE + "8\r\nabc\r\n0\r\n\r\n{S}", 400),
    ("chunk_data_no_crlf_smuggle", POST_TE + "1\r\nA0\r\n\r\n{S}", 400),
    ("chunk_size_bare_lf", POST_TE + "3\nabc\r\n0\r\n\r\n", 400),
    ("chunk_size_bare_cr", POST_TE + "3\rabc\r\n0\r\n\r\n", 400),
    ("last_chunk_bare_lf", POST_TE + "0\n\n", 400),
    ("last_chunk_no_final_crlf", POST_TE + "0\r\n{S}", 400),
    ("last_chunk_bare_cr", POST_TE + "0\r\n\rX", 400),
    # chunk extensions
    ("ext_empty", POST_TE + "3;\r\nabc\r\n0\r\n\r\n", 400),
    ("ext_space", POST_TE + "3;a b\r\nabc\r\n0\r\n\r\n", 400),
    ("ext_ctl", POST_TE + "3;a=\x01\r\nabc\r\n0\r\n\r\n", 400),
    ("ext_nul", POST_TE + "3;a\x00=b\r\nabc\r\n0\r\n\r\n", 400),
    ("ext_bare_lf", POST_TE + "3;a=b\nabc\r\n0\r\n\r\n", 400),
    ("ext_unterminated_quote", POST_TE + "3;a=\"b\r\nabc\r\n0\r\n\r\n", 400),
    ("ext_bws", POST_TE + "3 ;a=b\r\nabc\r\n0\r\n\r\n", 400),
    ("ext_no_value", POST_TE + "3;a=\r\nabc\r\n0\r\n\r\n", 400),
    ("ext_no_name", POST_TE + "3;=b\r\nabc\r\n0\r\n\r\n", 400),
    ("ext_too_long", POST_TE + "3;a=" + "b" * 5000 + "\r\nabc\r\n0\r\n\r\n", 400),
    # chunk sizes
    ("size_space_after", POST_TE + "3 \r\nabc\r\n0\r\n\r\n", 400),
    ("size_space_before", POST_TE + " 3\r\nabc\r\n0\r\n\r\n", 400),
    ("size_hex_prefix", POST_TE + "0x3\r\nabc\r\n0\r\n\r\n", 400),
    ("size_plus", POST_TE + "+3\r\nabc\r\n0\r\n\r\n", 400),
    ("size_minus", POST_TE + "-3\r\nabc\r\n0\r\n\r\n", 400),
    ("size_empty", POST_TE + "\r\nabc\r\n0\r\n\r\n", 400),
    ("size_17_digits", POST_TE + "10000000000000003\r\nabc\r\n0\r\n\r\n", 400),
    ("size_leading_zeros", POST_TE + "00000000000000000003\r\nabc\r\n0\r\n\r\n", 400),
    ("size_2pow63", POST_TE + "8000000000000000\r\nabc\r\n0\r\n\r\n", 400),
    ("size_2pow64_minus1", POST_TE + "FFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n", 400),
    ("size_underscore", POST_TE + "1_0\r\nabc\r\n0\r\n\r\n", 400),
    # trailers
    ("trailer_obs_fold", POST_TE + "0\r\nX-T: b\r\n c\r\n\r\n", 400),
    ("trailer_bare_lf", POST_TE + "0\r\nX-T: b\n\r\n", 400),
    ("trailer_space_in_name", POST_TE + "0\r\nX T: b\r\n\r\n", 400),
    ("trailer_ctl", POST_TE + "0\r\nX-T: b\x01\r\n\r\n", 400),
    ("trailer_content_length", POST_TE + "0\r\nContent-Length: 50\r\n\r\n", 400),
    ("trailer_transfer_encoding", POST_TE + "0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    # bare CR / LF in the head
    ("bare_cr_in_value", GET + "X-A: a\rb\r\n\r\n", 400),
    ("bare_lf_lines", "GET / HTTP/1.1\nHost: {H}\nX-A: b\n\n", 400),
    ("bare_lf_head_end", GET + "\n", 400),
    ("bare_lf_request_line", "GET / HTTP/1.1\nHost: {H}\r\n\r\n", 400),
    ("cr_cr_lf", GET + "X-A: b\r\r\n\r\n", 400),
    ("bare_cr_head_end", GET + "\rX\r\n\r\n", 400),
    ("leading_bare_lf", "\n" + GET + "\r\n", 400),
    ("bare_cr_in_name", GET + "X-A\r: b\r\n\r\n", 400),
    # header names and values
    ("nul_in_value", GET + "X-A: a\x00b\r\n\r\n", 400),
    ("ctl_in_value", GET + "X-A: a\x01b\r\n\r\n", 400),
    ("del_in_value", GET + "X-A: a\x7fb\r\n\r\n", 400),
    ("vt_in_value", GET + "X-A: \x0bb\r\n\r\n", 400),
    ("esc_in_value", GET + "X-A: \x1b[31m\r\n\r\n", 400),
    ("nul_in_name", GET + "X\x00A: b\r\n\r\n", 400),
    ("empty_name", GET + ": b\r\n\r\n", 400),
    ("no_colon", GET + "Foo\r\n\r\n", 400),
    ("slash_in_name", GET + "X/A: b\r\n\r\n", 400),
    ("utf8_in_name", GET + "X\u00e9: b\r\n\r\n", 400),
    ("space_before_colon", GET + "X-A : b\r\n\r\n", 400),
    ("tab_before_colon", GET + "X-A\t: b\r\n\r\n", 400),
    ("te_space_before_colon", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\n"
     "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n{S}", 400),
    # Content-Length
    ("cl_twice_same", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 3\r\n"
     "Content-Length: 3\r\n\r\nabc", 400),
    ("cl_twice_different", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 0\r\n"
     "Content-Length: 40\r\n\r\n{S}", 400),
    ("cl_list", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
    ("cl_plus", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: +3\r\n\r\nabc", 400),
    ("cl_minus", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: -3\r\n\r\nabc", 400),
    ("cl_two_numbers", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 3 3\r\n\r\nabc", 400),
    ("cl_hex", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 0x3\r\n\r\nabc", 400),
    ("cl_overflow", "POST / HTTP/1.1\r\nHost: {H}\r\n"
     "Content-Length: 18446744073709551619\r\n\r\nabc", 400),
    ("cl_empty", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: \r\n\r\nabc", 400),
    ("cl_decimal", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 3.0\r\n\r\nabc", 400),
    # Content-Length with Transfer-Encoding
    ("cl_te", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 6\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n{S}", 400),
    ("te_cl", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 6\r\n\r\n0\r\n\r\n{S}", 400),
    ("cl_te_identity", "POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 3\r\n"
     "Transfer-Encoding: identity\r\n\r\nabc", 400),
    # Transfer-Encoding other than a final chunked
    ("te_identity", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: identity\r\n\r\n", 400),
    ("te_chunked_identity", "POST / HTTP/1.1\r\nHost: {H}\r\n"
     "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
    ("te_two_headers", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: identity\r\n\r\n0\r\n\r\n", 400),
    ("te_two_chunked_headers", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te_chunked_twice", "POST / HTTP/1.1\r\nHost: {H}\r\n"
     "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    ("te_xchunked", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: xchunked\r\n\r\n"
     "0\r\n\r\n", 400),
    ("te_chunk", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunk\r\n\r\n0\r\n\r\n", 400),
    ("te_quoted", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"
     "0\r\n\r\n", 400),
    ("te_empty", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: \r\n\r\n0\r\n\r\n", 400),
    ("te_vertical_tab", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: \x0bchunked\r\n\r\n"
     "0\r\n\r\n", 400),
    ("te_trailing_comma", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked,\r\n\r\n"
     "0\r\n\r\n", 400),
    ("te_gzip", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    ("te_gzip_chunked", "POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     "0\r\n\r\n", 501),
    ("te_http10", "POST / HTTP/1.0\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n", 400),
    # request-line anomalies
    ("rl_two_spaces", "GET  / HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_tab", "GET\t/ HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_trailing_space", "GET / HTTP/1.1 \r\nHost: {H}\r\n\r\n", 400),
    ("rl_space_in_target", "GET /a b HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_ctl_in_target", "GET /a\x01b HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_tab_in_target", "GET /a\tb HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_high_byte_in_target", "GET /a\u00ffb HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_fragment", "GET /a#b HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_lowercase_method", "get / HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_version_01", "GET / HTTP/1.01\r\nHost: {H}\r\n\r\n", 400),
    ("rl_version_19", "GET / HTTP/1.9\r\nHost: {H}\r\n\r\n", 505),
    ("rl_version_20", "GET / HTTP/2.0\r\nHost: {H}\r\n\r\n", 505),
    ("rl_version_lowercase", "GET / http/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_no_version", "GET /\r\nHost: {H}\r\n\r\n", 400),
    ("rl_bare_cr", "GET / HTTP/1.1\rX\r\nHost: {H}\r\n\r\n", 400),
    ("rl_userinfo", "GET http://user:pw@{H}/ HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("rl_bad_port", "GET http://{H}:8x/ HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    # Host
    ("host_twice", "GET / HTTP/1.1\r\nHost: {H}\r\nHost: {H}\r\n\r\n", 400),
    ("host_missing", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
    ("host_space", "GET / HTTP/1.1\r\nHost: {H} x\r\n\r\n", 400),
    ("host_userinfo", "GET / HTTP/1.1\r\nHost: u@{H}\r\n\r\n", 400),
    ("host_slash", "GET / HTTP/1.1\r\nHost: {H}/x\r\n\r\n", 400),
]

# (name, request parts, responses the client gets before the second
# request's). A list of parts is sent one part at a time, waiting for a
# response line ("HTTP/1.1 100" for Expect) after each but the last.
VALID = [
    ("chunked", [POST_TE + "3\r\nabc\r\n0\r\n\r\n"]),
    ("chunked_many", [POST_TE + "a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n"]),
    ("chunked_extensions", [POST_TE + "3;x=\"q d\";name=val\r\nabc\r\n0;last\r\n\r\n"]),
    ("chunked_trailers", [POST_TE + "3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-Other: two words\r\n\r\n"]),
    ("chunked_leading_zeros", [POST_TE + "0003\r\nabc\r\n00\r\n\r\n"]),
    ("chunked_big", [POST_TE + "4e20\r\n" + "x" * 20000 + "\r\n0\r\n\r\n"]),
    ("chunked_case_ows", ["POST / HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding:  ChUnKeD \r\n\r\n"
                          "3\r\nabc\r\n0\r\n\r\n"]),
    ("content_length", ["POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: 3\r\n\r\nabc"]),
    ("content_length_ows", ["POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length:  3 \r\n\r\nabc"]),
    ("body_looks_like_request", ["POST / HTTP/1.1\r\nHost: {H}\r\nContent-Length: {len_B}\r\n"
                                 "\r\n{B}"]),
    ("keep_alive", [GET + "\r\n"]),
    ("leading_crlf", ["\r\n" + GET + "\r\n"]),
    ("obs_text_value", [GET + "X-Name: caf\u00e9\r\n\r\n"]),
    ("tab_and_empty_values", [GET + "X-Tab: a\tb\r\nX-Empty:\r\n\r\n"]),
    ("absolute_form", ["GET http://{H}/abs?q=1 HTTP/1.1\r\nHost: {H}\r\n\r\n"]),
    ("http10_keep_alive", ["GET / HTTP/1.0\r\nHost: {H}\r\nConnection: keep-alive\r\n\r\n"]),
    ("expect_100_continue", ["POST / HTTP/1.1\r\nHost: {H}\r\nExpect: 100-continue\r\n"
                             "Content-Length: 3\r\n\r\n", "abc"]),
    ("websocket_upgrade", [GET + "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"]),
]

# the body of body_looks_like_request: a request, but only as data
BODY_REQUEST = "GET /bodytext-{name} HTTP/1.1\r\nHost: {H}\r\n\r\n"


def render(template, name, host):
    """The bytes of one template (latin-1: \\u00XX are single bytes)."""
    smuggled = SMUGGLED.format(name=name, H=host)
    body = BODY_REQUEST.format(name=name, H=host)
    text = (template.replace("{H}", host).replace("{S}", smuggled)
            .replace("{len_B}", str(len(body))).replace("{B}", body))
    return text.encode("latin-1")


def malformed_pair(name, template, host):
    """The malformed request followed by the pipelined smuggled one."""
    return render(template, name, host) + SMUGGLED.format(name=name, H=host).encode()


def valid_parts(name, parts, host):
    """The valid request's parts; the second request is appended to the last."""
    out = [render(p, name, host) for p in parts]
    out[-1] += SECOND.format(name=name, H=host).encode()
    return out
