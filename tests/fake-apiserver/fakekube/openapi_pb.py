"""openapi_pb.py - an OpenAPI v2 (Swagger 2.0) document, as JSON, encoded
in the protocol-buffer form kube-apiserver serves at /openapi/v2 to a
client that asks for `application/com.github.proto-openapi.spec.v2@v1.0+
protobuf` - which is what every kubectl asks for (client-go's discovery
client decodes nothing else). The message layout is the openapi.v2
package of the gnostic project (google/gnostic, openapiv2/OpenAPIv2.proto);
the encoder below is a table of its field numbers and a protobuf wire
writer (varints, length-delimited fields, little-endian doubles). Values
the schema types as `Any` (default, enum, example, vendor extensions) are
carried as YAML text, as gnostic does; JSON is YAML. Pure: bytes in,
bytes out; no imports beyond the standard library."""
import json
import struct

# wire types
_VARINT, _I64, _LEN = 0, 1, 2


def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def _len_field(field, payload):
    return _key(field, _LEN) + _varint(len(payload)) + payload


def _str(field, s):
    if s is None or s == "":
        return b""
    if not isinstance(s, str):
        s = json.dumps(s)
    return _len_field(field, s.encode("utf-8"))


def _bool(field, b):
    return _key(field, _VARINT) + b"\x01" if b is True else b""


def _int(field, n):
    if not isinstance(n, (int, float)) or isinstance(n, bool) or n == 0:
        return b""
    return _key(field, _VARINT) + _varint(int(n))


def _double(field, x):
    if not isinstance(x, (int, float)) or isinstance(x, bool) or x == 0:
        return b""
    return _key(field, _I64) + struct.pack("<d", float(x))


def _yaml_text(value):
    # JSON is YAML; a trailing newline as YAML emitters write
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": ")) + "\n"


def _any(field, value):
    """An Any carrying value as YAML text (field 2 of Any)."""
    return _len_field(field, _str(2, _yaml_text(value)))


def _named_any(name, value):
    return _str(1, name) + _len_field(2, _str(2, _yaml_text(value)))


def _vendor(field, obj):
    out = b""
    for k, v in obj.items():
        if k.startswith("x-"):
            out += _len_field(field, _named_any(k, v))
    return out


# ---- message tables ------------------------------------------------------------------------
# Each table maps a JSON key to (field number, kind[, sub]). kind: str, bool, int, double,
# strs (repeated string), any, anys (repeated Any), msg (sub), msgs (repeated sub), or a
# function name for the special shapes. "x-" keys go to the table's "x-" field.

_EXTERNAL_DOCS = {"description": (1, "str"), "url": (2, "str"), "x-": 3}
_PRIMITIVES_ITEMS = {
    "type": (1, "str"), "format": (2, "str"), "items": (3, "msg", "PrimitivesItems"),
    "collectionFormat": (4, "str"), "default": (5, "any"), "maximum": (6, "double"),
    "exclusiveMaximum": (7, "bool"), "minimum": (8, "double"), "exclusiveMinimum": (9, "bool"),
    "maxLength": (10, "int"), "minLength": (11, "int"), "pattern": (12, "str"),
    "maxItems": (13, "int"), "minItems": (14, "int"), "uniqueItems": (15, "bool"),
    "enum": (16, "anys"), "multipleOf": (17, "double"), "x-": 18}
# query and formData parameters share one layout, path and header parameters another
_QUERY_PARAM = {
    "required": (1, "bool"), "in": (2, "str"), "description": (3, "str"), "name": (4, "str"),
    "allowEmptyValue": (5, "bool"), "type": (6, "str"), "format": (7, "str"),
    "items": (8, "msg", "PrimitivesItems"), "collectionFormat": (9, "str"), "default": (10, "any"),
    "maximum": (11, "double"), "exclusiveMaximum": (12, "bool"), "minimum": (13, "double"),
    "exclusiveMinimum": (14, "bool"), "maxLength": (15, "int"), "minLength": (16, "int"),
    "pattern": (17, "str"), "maxItems": (18, "int"), "minItems": (19, "int"),
    "uniqueItems": (20, "bool"), "enum": (21, "anys"), "multipleOf": (22, "double"), "x-": 23}
_PATH_PARAM = {
    "required": (1, "bool"), "in": (2, "str"), "description": (3, "str"), "name": (4, "str"),
    "type": (5, "str"), "format": (6, "str"), "items": (7, "msg", "PrimitivesItems"),
    "collectionFormat": (8, "str"), "default": (9, "any"), "maximum": (10, "double"),
    "exclusiveMaximum": (11, "bool"), "minimum": (12, "double"), "exclusiveMinimum": (13, "bool"),
    "maxLength": (14, "int"), "minLength": (15, "int"), "pattern": (16, "str"),
    "maxItems": (17, "int"), "minItems": (18, "int"), "uniqueItems": (19, "bool"),
    "enum": (20, "anys"), "multipleOf": (21, "double"), "x-": 22}
_BODY_PARAM = {"description": (1, "str"), "name": (2, "str"), "in": (3, "str"),
               "required": (4, "bool"), "schema": (5, "msg", "Schema"), "x-": 6}
_SCHEMA = {
    "$ref": (1, "str"), "format": (2, "str"), "title": (3, "str"), "description": (4, "str"),
    "default": (5, "any"), "multipleOf": (6, "double"), "maximum": (7, "double"),
    "exclusiveMaximum": (8, "bool"), "minimum": (9, "double"), "exclusiveMinimum": (10, "bool"),
    "maxLength": (11, "int"), "minLength": (12, "int"), "pattern": (13, "str"),
    "maxItems": (14, "int"), "minItems": (15, "int"), "uniqueItems": (16, "bool"),
    "maxProperties": (17, "int"), "minProperties": (18, "int"), "required": (19, "strs"),
    "enum": (20, "anys"), "additionalProperties": (21, "additional_properties"),
    "type": (22, "type_item"), "items": (23, "items_item"), "allOf": (24, "msgs", "Schema"),
    "properties": (25, "named", "Schema"), "discriminator": (26, "str"), "readOnly": (27, "bool"),
    "xml": (28, "msg", "Xml"), "externalDocs": (29, "msg", "ExternalDocs"),
    "example": (30, "any"), "x-": 31}
_XML = {"name": (1, "str"), "namespace": (2, "str"), "prefix": (3, "str"),
        "attribute": (4, "bool"), "wrapped": (5, "bool"), "x-": 6}
_OPERATION = {
    "tags": (1, "strs"), "summary": (2, "str"), "description": (3, "str"),
    "externalDocs": (4, "msg", "ExternalDocs"), "operationId": (5, "str"), "produces": (6, "strs"),
    "consumes": (7, "strs"), "parameters": (8, "parameters"), "responses": (9, "responses"),
    "schemes": (10, "strs"), "deprecated": (11, "bool"), "security": (12, "security"), "x-": 13}
_PATH_ITEM = {
    "$ref": (1, "str"), "get": (2, "msg", "Operation"), "put": (3, "msg", "Operation"),
    "post": (4, "msg", "Operation"), "delete": (5, "msg", "Operation"),
    "options": (6, "msg", "Operation"), "head": (7, "msg", "Operation"),
    "patch": (8, "msg", "Operation"), "parameters": (9, "parameters"), "x-": 10}
_RESPONSE = {"description": (1, "str"), "schema": (2, "schema_item"),
             "headers": (3, "named", "Header"), "examples": (4, "named_any"), "x-": 5}
_HEADER = {
    "type": (1, "str"), "format": (2, "str"), "items": (3, "msg", "PrimitivesItems"),
    "collectionFormat": (4, "str"), "default": (5, "any"), "maximum": (6, "double"),
    "exclusiveMaximum": (7, "bool"), "minimum": (8, "double"), "exclusiveMinimum": (9, "bool"),
    "maxLength": (10, "int"), "minLength": (11, "int"), "pattern": (12, "str"),
    "maxItems": (13, "int"), "minItems": (14, "int"), "uniqueItems": (15, "bool"),
    "enum": (16, "anys"), "multipleOf": (17, "double"), "description": (18, "str"), "x-": 19}
_INFO = {"title": (1, "str"), "version": (2, "str"), "description": (3, "str"),
         "termsOfService": (4, "str"), "contact": (5, "msg", "Contact"),
         "license": (6, "msg", "License"), "x-": 7}
_CONTACT = {"name": (1, "str"), "url": (2, "str"), "email": (3, "str"), "x-": 4}
_LICENSE = {"name": (1, "str"), "url": (2, "str"), "x-": 3}
_TAG = {"name": (1, "str"), "description": (2, "str"),
        "externalDocs": (3, "msg", "ExternalDocs"), "x-": 4}
_API_KEY = {"type": (1, "str"), "name": (2, "str"), "in": (3, "str"), "description": (4, "str"),
            "x-": 5}
_BASIC = {"type": (1, "str"), "description": (2, "str"), "x-": 3}
_DOCUMENT = {
    "swagger": (1, "str"), "info": (2, "msg", "Info"), "host": (3, "str"), "basePath": (4, "str"),
    "schemes": (5, "strs"), "consumes": (6, "strs"), "produces": (7, "strs"),
    "paths": (8, "paths"), "definitions": (9, "named", "Schema"),
    "parameters": (10, "named", "Parameter"), "responses": (11, "named", "Response"),
    "security": (12, "security"), "securityDefinitions": (13, "security_definitions"),
    "tags": (14, "msgs", "Tag"), "externalDocs": (15, "msg", "ExternalDocs"), "x-": 16}

_TABLES = {"ExternalDocs": _EXTERNAL_DOCS, "PrimitivesItems": _PRIMITIVES_ITEMS,
           "Schema": _SCHEMA, "Xml": _XML, "Operation": _OPERATION, "PathItem": _PATH_ITEM,
           "Response": _RESPONSE, "Header": _HEADER, "Info": _INFO, "Contact": _CONTACT,
           "License": _LICENSE, "Tag": _TAG, "Document": _DOCUMENT}


def _message(table_name, obj):
    if table_name == "Parameter":
        return _parameter(obj)
    table = _TABLES[table_name]
    if not isinstance(obj, dict):
        return b""
    out = b""
    for k, v in obj.items():
        if k.startswith("x-"):
            continue
        spec = table.get(k)
        if spec is None:
            continue
        out += _field(spec, v)
    if "x-" in table:
        out += _vendor(table["x-"], obj)
    return out


def _field(spec, v):
    field, kind = spec[0], spec[1]
    sub = spec[2] if len(spec) > 2 else None
    if kind == "str":
        return _str(field, v)
    if kind == "bool":
        return _bool(field, v)
    if kind == "int":
        return _int(field, v)
    if kind == "double":
        return _double(field, v)
    if kind == "strs":
        return b"".join(_len_field(field, str(s).encode()) for s in (v or []))
    if kind == "any":
        return _any(field, v)
    if kind == "anys":
        return b"".join(_any(field, x) for x in (v or []))
    if kind == "msg":
        return _len_field(field, _message(sub, v))
    if kind == "msgs":
        return b"".join(_len_field(field, _message(sub, x)) for x in (v or []))
    if kind == "named":
        # a message whose field 1 is repeated Named<sub>{name = 1, value = 2}
        inner = b"".join(_len_field(1, _str(1, name) + _len_field(2, _message(sub, val)))
                         for name, val in (v or {}).items())
        return _len_field(field, inner)
    if kind == "named_any":
        inner = b"".join(_len_field(1, _named_any(name, val)) for name, val in (v or {}).items())
        return _len_field(field, inner)
    if kind == "type_item":
        types = v if isinstance(v, list) else [v]
        return _len_field(field, b"".join(_len_field(1, str(t).encode()) for t in types))
    if kind == "items_item":
        schemas = v if isinstance(v, list) else [v]
        return _len_field(field, b"".join(_len_field(1, _message("Schema", s)) for s in schemas))
    if kind == "additional_properties":
        if isinstance(v, bool):
            return _len_field(field, _key(2, _VARINT) + (b"\x01" if v else b"\x00"))
        return _len_field(field, _len_field(1, _message("Schema", v)))
    if kind == "schema_item":
        return _len_field(field, _len_field(1, _message("Schema", v)))
    if kind == "parameters":
        return b"".join(_len_field(field, _parameters_item(p)) for p in (v or []))
    if kind == "responses":
        inner = b""
        for code, resp in (v or {}).items():
            if code.startswith("x-"):
                continue
            if isinstance(resp, dict) and "$ref" in resp:
                value = _len_field(2, _str(1, resp["$ref"]))
            else:
                value = _len_field(1, _message("Response", resp))
            inner += _len_field(1, _str(1, code) + _len_field(2, value))
        inner += _vendor(2, v or {})
        return _len_field(field, inner)
    if kind == "security":
        out = b""
        for req in v or []:
            inner = b"".join(_len_field(1, _str(1, name) + _len_field(
                2, b"".join(_len_field(1, str(s).encode()) for s in scopes)))
                for name, scopes in req.items())
            out += _len_field(field, inner)
        return out
    if kind == "security_definitions":
        inner = b""
        for name, d in (v or {}).items():
            t = d.get("type")
            if t == "apiKey":
                item = _len_field(2, _message_table(_API_KEY, d))
            elif t == "basic":
                item = _len_field(1, _message_table(_BASIC, d))
            else:
                continue
            inner += _len_field(1, _str(1, name) + _len_field(2, item))
        return _len_field(field, inner)
    if kind == "paths":
        inner = _vendor(1, v or {})
        for path, item in (v or {}).items():
            if path.startswith("x-"):
                continue
            inner += _len_field(2, _str(1, path) + _len_field(2, _message("PathItem", item)))
        return _len_field(field, inner)
    raise ValueError("openapi_pb: unknown kind %s" % kind)


def _message_table(table, obj):
    out = b""
    for k, v in obj.items():
        if not k.startswith("x-") and k in table:
            out += _field(table[k], v)
    return out + _vendor(table["x-"], obj)


def _parameter(p):
    """Parameter: oneof body_parameter = 1, non_body_parameter = 2."""
    where = p.get("in")
    if where == "body":
        return _len_field(1, _message_table(_BODY_PARAM, p))
    sub = {"header": (1, _PATH_PARAM), "formData": (2, _QUERY_PARAM),
           "query": (3, _QUERY_PARAM), "path": (4, _PATH_PARAM)}.get(where)
    if sub is None:
        return b""
    return _len_field(2, _len_field(sub[0], _message_table(sub[1], p)))


def _parameters_item(p):
    """ParametersItem: oneof parameter = 1, json_reference = 2."""
    if "$ref" in p:
        return _len_field(2, _str(1, p["$ref"]) + _str(2, p.get("description")))
    return _len_field(1, _parameter(p))


def encode_document(doc):
    """The protobuf bytes of an OpenAPI v2 document given as a dict."""
    return _message("Document", doc)
