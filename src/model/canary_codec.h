/* canary_codec.h - internal to src/model: per-kind decode and encode
 * functions that object.c dispatches to. */
#ifndef CD_CANARY_CODEC_H
#define CD_CANARY_CODEC_H
#include "model/decode_util.h"
#include "model/object.h"

void cd_canary_decode_spec(cd_dec *d, const cd_node *spec, cd_canary_spec *s);
json_t *cd_canary_encode_spec(const cd_canary_spec *s);

void cd_metric_template_decode_spec(cd_dec *d, const cd_node *spec, cd_metric_template_spec *s);
json_t *cd_metric_template_encode_spec(const cd_metric_template_spec *s);

void cd_alert_provider_decode_spec(cd_dec *d, const cd_node *spec, cd_alert_provider_spec *s);
json_t *cd_alert_provider_encode_spec(const cd_alert_provider_spec *s);

#endif
