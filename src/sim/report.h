/* report.h - how `canaryctl simulate` shows a simulation: a table with one
 * row per tick and a summary, or one JSON object per tick and a summary
 * object (docs/simulate.md). Builds text in buffers; never prints. */
#ifndef CD_SIM_REPORT_H
#define CD_SIM_REPORT_H
#include "sim/sim.h"
#include "util/buf.h"
#include <jansson.h>

typedef enum { CD_SIM_FORMAT_TABLE, CD_SIM_FORMAT_JSON } cd_sim_format;

/* partition: a PARTITION column (cd_sim_shows_partition) */
void cd_sim_table_header(cd_buf *out, bool partition);
void cd_sim_table_row(const cd_sim_row *r, cd_buf *out);
void cd_sim_table_summary(cd_phase phase, int64_t duration_ms, int ticks, cd_buf *out);
/* status.judge after the last tick (cd_judge_describe); nothing when empty. */
void cd_sim_table_judge(const cd_judge_state *judge, size_t n, cd_buf *out);

/* {"t","phase","canaryWeight","primaryWeight","mirrored","failedChecks","iterations","events"},
 * plus "partition" after primaryWeight (a StatefulSet with scenario replicas)
 * and "judge" (status.judge without the test's state) for judged canaries */
json_t *cd_sim_row_json(const cd_sim_row *r);
/* {"summary":true,"phase","duration","ticks"}; times in seconds */
json_t *cd_sim_summary_json(cd_phase phase, int64_t duration_ms, int ticks);

/* Runs s to its end, appending everything in the format. Returns the final phase. */
cd_phase cd_sim_render(cd_sim *s, cd_sim_format format, cd_buf *out);

#endif
