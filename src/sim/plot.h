/* plot.h - `canaryctl simulate --plot FILE.svg`: a simulation drawn as one
 * self-contained SVG (no script, no external reference): the canary and
 * primary weights, the phases as a coloured band, and one panel per
 * threshold metric with its values and its limits, over simulated time.
 * Collects rows as they come and renders into a buffer; never does I/O.
 * Elements carry ids (canary-weight, primary-weight, phases, metric-NAME)
 * so that tests and scripts can find each series. */
#ifndef CD_SIM_PLOT_H
#define CD_SIM_PLOT_H
#include "model/canary.h"
#include "sim/sim.h"
#include "util/buf.h"

typedef struct cd_sim_plot cd_sim_plot;

/* spec: the simulated canary (its metrics and their limits; kept by
 * reference, must outlive the plot). */
cd_sim_plot *cd_sim_plot_new(const cd_canary_spec *spec);
void cd_sim_plot_add(cd_sim_plot *p, const cd_sim_row *row);
/* The SVG document (UTF-8, XML-escaped title). */
void cd_sim_plot_svg(const cd_sim_plot *p, const char *title, cd_buf *out);
void cd_sim_plot_free(cd_sim_plot *p);

#endif
