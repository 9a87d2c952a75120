/* schema_check.h - checks that a CustomResourceDefinition says only what
 * the API server's types can hold: every key of an openAPIV3Schema is a
 * field of apiextensions.k8s.io/v1 JSONSchemaProps (and of its
 * ValidationRule and ExternalDocumentation), every field of the CRD itself
 * is one of CustomResourceDefinition's, and each holds the kind of value
 * its Go type decodes (string, boolean, integer, list, schema). A real API
 * server refuses anything else (kubectl's client-side validation as
 * "unknown field", server-side field validation as "strict decoding
 * error"), or drops it silently when neither is in force. */
#ifndef CD_SCHEMA_CHECK_H
#define CD_SCHEMA_CHECK_H
#include "model/diag.h"
#include "model/node.h"

/* Checks one JSONSchemaProps tree (an openAPIV3Schema) whose path is path.
 * Errors carry file, line, column and the path of the offending key.
 * Returns the number of errors added. */
size_t cd_schema_check_props(const cd_node *schema, const char *file, const char *path,
                             cd_diags *diags);

/* Checks a whole CustomResourceDefinition document (root of a manifest),
 * its schemas included. Returns the number of errors added. */
size_t cd_schema_check_crd(const cd_node *crd, const char *file, cd_diags *diags);

/* Checks every CustomResourceDefinition of a stream; other documents are
 * skipped. Returns the number of errors added. */
size_t cd_schema_check_stream(const cd_stream *s, cd_diags *diags);

#endif
