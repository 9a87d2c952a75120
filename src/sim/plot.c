/* plot.c - the SVG picture of a simulation (see plot.h): weights, phases
 * and metric values against simulated time, drawn with a handful of SVG
 * elements (polyline, rect, line, text). Pure: builds text, no I/O, no
 * dependency beyond util/buf. Long simulations are thinned to at most
 * PLOT_MAX_POINTS drawn ticks, keeping every phase change. */
#include "sim/plot.h"
#include "util/grow.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_MAX_POINTS 4000
#define PLOT_MAX_METRICS 8

typedef struct plot_point {
    int64_t t_ms;
    cd_phase phase;
    int canary, primary;
    float value[PLOT_MAX_METRICS];   /* NAN: no value this tick */
} plot_point;

struct cd_sim_plot {
    const cd_canary_spec *spec;
    const cd_metric *metrics[PLOT_MAX_METRICS];   /* the threshold metrics drawn */
    size_t n_metrics;
    plot_point *pts;
    size_t n, cap;
};

/* geometry (px) */
enum { W = 960, LEFT = 76, RIGHT = 24, TOP = 48, WEIGHT_H = 180, PHASE_H = 26, METRIC_H = 110,
       GAP = 34, AXIS_H = 40 };

cd_sim_plot *cd_sim_plot_new(const cd_canary_spec *spec)
{
    cd_sim_plot *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->spec = spec;
    for (size_t i = 0; i < spec->analysis.n_metrics && p->n_metrics < PLOT_MAX_METRICS; i++)
        if (!spec->analysis.metrics[i].judge && spec->analysis.metrics[i].name)
            p->metrics[p->n_metrics++] = &spec->analysis.metrics[i];
    return p;
}

void cd_sim_plot_add(cd_sim_plot *p, const cd_sim_row *row)
{
    CD_GROW(p->pts, p->cap, p->n + 1, 256);
    plot_point *pt = &p->pts[p->n++];
    pt->t_ms = row->t_ms;
    pt->phase = row->phase;
    pt->canary = row->canary_weight;
    pt->primary = row->primary_weight;
    for (size_t k = 0; k < p->n_metrics; k++) {
        pt->value[k] = NAN;
        for (size_t i = 0; i < row->n_metrics; i++)
            if (row->metrics[i].has_value && !strcmp(row->metrics[i].name, p->metrics[k]->name))
                pt->value[k] = (float)row->metrics[i].value;
    }
}

void cd_sim_plot_free(cd_sim_plot *p)
{
    if (!p)
        return;
    free(p->pts);
    free(p);
}

/* ---- drawing -------------------------------------------------------------- */

static void esc(cd_buf *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': cd_buf_puts(out, "&lt;"); break;
        case '>': cd_buf_puts(out, "&gt;"); break;
        case '&': cd_buf_puts(out, "&amp;"); break;
        case '"': cd_buf_puts(out, "&quot;"); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                cd_buf_putc(out, *s);
        }
    }
}

/* an id from a metric name: [A-Za-z0-9-] only */
static void id_of(cd_buf *out, const char *prefix, const char *name)
{
    cd_buf_puts(out, prefix);
    for (; *name; name++) {
        char c = *name;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        cd_buf_putc(out, ok ? c : '-');
    }
}

typedef struct frame {
    double t0, t1;      /* ms */
    int plot_w;
} frame;

static double xpos(const frame *f, int64_t t)
{
    double span = f->t1 > f->t0 ? f->t1 - f->t0 : 1;
    return LEFT + (t - f->t0) / span * f->plot_w;
}

static const char *phase_colour(cd_phase ph)
{
    switch (ph) {
    case CD_PHASE_INITIALIZING: return "#d9d9d9";
    case CD_PHASE_INITIALIZED: return "#bdbdbd";
    case CD_PHASE_WAITING: return "#ffe08a";
    case CD_PHASE_PROGRESSING: return "#9ecae1";
    case CD_PHASE_WAITING_PROMOTION: return "#fdd0a2";
    case CD_PHASE_PROMOTING: return "#a1d99b";
    case CD_PHASE_FINALISING: return "#c7e9c0";
    case CD_PHASE_SUCCEEDED: return "#41ab5d";
    case CD_PHASE_FAILED: return "#ef3b2c";
    case CD_PHASE_TERMINATING: return "#969696";
    case CD_PHASE_TERMINATED: return "#737373";
    default: return "#f0f0f0";
    }
}

/* Which points are drawn: all, or every k-th plus each phase change and the last. */
static bool drawn(const cd_sim_plot *p, size_t i)
{
    size_t k = p->n > PLOT_MAX_POINTS ? (p->n + PLOT_MAX_POINTS - 1) / PLOT_MAX_POINTS : 1;
    return i % k == 0 || i + 1 == p->n || (i && p->pts[i].phase != p->pts[i - 1].phase);
}

static double nice_step(double span, int want)
{
    double raw = span / want, mag = pow(10, floor(log10(raw)));
    double n = raw / mag;
    return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

static void time_label(char *out, size_t n, double ms)
{
    double s = ms / 1000;
    if (s >= 3600 && fmod(s, 60) == 0)
        snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60)
        snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(out, n, "%gs", s);
}

/* vertical grid lines over [y0, y1], and the time labels under y1 */
static void time_axis(cd_buf *out, const frame *f, int y0, int y1)
{
    double span = f->t1 - f->t0 > 0 ? f->t1 - f->t0 : 1000;
    double step = nice_step(span, 8);
    if (step < 1000)
        step = 1000;
    cd_buf_puts(out, "<g id=\"time-axis\" font-size=\"11\" fill=\"#444\" text-anchor=\"middle\">\n");
    for (double t = ceil(f->t0 / step) * step; t <= f->t1 + 0.5; t += step) {
        double x = xpos(f, (int64_t)t);
        char lab[32];
        time_label(lab, sizeof lab, t);
        cd_buf_printf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e5e5e5\"/>"
                           "<text x=\"%.1f\" y=\"%d\">%s</text>\n",
                      x, y0, x, y1, x, y1 + 16, lab);
    }
    cd_buf_printf(out, "<text x=\"%d\" y=\"%d\">simulated time</text>\n</g>\n",
                  LEFT + f->plot_w / 2, y1 + 32);
}

/* A step line (the value holds until the next tick) of ints 0..100. */
static void weight_line(cd_buf *out, const cd_sim_plot *p, const frame *f, int y, bool canary,
                        const char *id, const char *colour)
{
    cd_buf_printf(out, "<polyline id=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                       "points=\"", id, colour);
    double prev_y = -1;
    for (size_t i = 0; i < p->n; i++) {
        if (!drawn(p, i))
            continue;
        int w = canary ? p->pts[i].canary : p->pts[i].primary;
        double x = xpos(f, p->pts[i].t_ms), yy = y + WEIGHT_H - w / 100.0 * WEIGHT_H;
        if (prev_y >= 0)
            cd_buf_printf(out, "%.1f,%.1f ", x, prev_y);
        cd_buf_printf(out, "%.1f,%.1f ", x, yy);
        prev_y = yy;
    }
    cd_buf_puts(out, "\"/>\n");
}

static void weights_panel(cd_buf *out, const cd_sim_plot *p, const frame *f, int y)
{
    cd_buf_printf(out, "<g id=\"weights\">\n<text x=\"%d\" y=\"%d\" font-size=\"13\" "
                       "font-weight=\"bold\">Traffic weight (%%)</text>\n", LEFT, y - 8);
    for (int v = 0; v <= 100; v += 25) {
        double yy = y + WEIGHT_H - v / 100.0 * WEIGHT_H;
        cd_buf_printf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                           "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" "
                           "fill=\"#444\">%d</text>\n",
                      LEFT, yy, LEFT + f->plot_w, yy, LEFT - 6, yy + 4, v);
    }
    weight_line(out, p, f, y, false, "primary-weight", "#3182bd");
    weight_line(out, p, f, y, true, "canary-weight", "#e6550d");
    int lx = LEFT + f->plot_w - 220;
    cd_buf_printf(out, "<g font-size=\"12\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                       "stroke=\"#e6550d\" stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">canary</text>"
                       "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#3182bd\" "
                       "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">primary</text></g>\n</g>\n",
                  lx, y - 12, lx + 24, y - 12, lx + 30, y - 8, lx + 110, y - 12, lx + 134, y - 12,
                  lx + 140, y - 8);
}

static void phases_panel(cd_buf *out, const cd_sim_plot *p, const frame *f, int y)
{
    cd_buf_printf(out, "<g id=\"phases\" font-size=\"11\">\n<text x=\"%d\" y=\"%d\" "
                       "font-size=\"11\" text-anchor=\"end\" fill=\"#444\">phase</text>\n",
                  LEFT - 6, y + PHASE_H / 2 + 4);
    size_t start = 0;
    for (size_t i = 1; i <= p->n; i++) {
        if (i < p->n && p->pts[i].phase == p->pts[start].phase)
            continue;
        int64_t t_end = i < p->n ? p->pts[i].t_ms : p->pts[i - 1].t_ms + (int64_t)(
                            p->n > 1 ? (p->pts[p->n - 1].t_ms - p->pts[0].t_ms) / (p->n - 1) : 1000);
        double x0 = xpos(f, p->pts[start].t_ms), x1 = xpos(f, t_end);
        if (x1 > LEFT + f->plot_w)
            x1 = LEFT + f->plot_w;
        const char *name = cd_phase_name(p->pts[start].phase);
        name = name && *name ? name : "(none)";
        cd_buf_printf(out, "<rect class=\"phase\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                           "fill=\"%s\"><title>", x0, y, x1 - x0 > 0.5 ? x1 - x0 : 0.5, PHASE_H,
                      phase_colour(p->pts[start].phase));
        esc(out, name);
        cd_buf_puts(out, "</title></rect>\n");
        if (x1 - x0 > 7.0 * strlen(name))
            cd_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                          (x0 + x1) / 2, y + PHASE_H / 2 + 4, name);
        start = i;
    }
    /* a legend of the phases present, in the order they first appear */
    bool seen[CD_PHASE_TERMINATED + 2] = {false};
    double lx = LEFT;
    for (size_t i = 0; i < p->n; i++) {
        int ph = (int)p->pts[i].phase;
        if (ph < 0 || ph > CD_PHASE_TERMINATED || seen[ph])
            continue;
        seen[ph] = true;
        const char *name = cd_phase_name(p->pts[i].phase);
        name = name && *name ? name : "(none)";
        cd_buf_printf(out, "<rect class=\"legend\" x=\"%.1f\" y=\"%d\" width=\"10\" "
                           "height=\"10\" fill=\"%s\"/><text x=\"%.1f\" y=\"%d\">%s</text>\n",
                      lx, y + PHASE_H + 6, phase_colour(p->pts[i].phase), lx + 14,
                      y + PHASE_H + 15, name);
        lx += 14 + 6.5 * strlen(name) + 14;
    }
    cd_buf_puts(out, "</g>\n");
}

static void metric_range(const cd_sim_plot *p, size_t k, double *lo, double *hi)
{
    const cd_metric *m = p->metrics[k];
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < p->n; i++)
        if (!isnan(p->pts[i].value[k])) {
            *lo = fmin(*lo, p->pts[i].value[k]);
            *hi = fmax(*hi, p->pts[i].value[k]);
        }
    if (m->has_min) {
        *lo = fmin(*lo, m->min);
        *hi = fmax(*hi, m->min);
    }
    if (m->has_max) {
        *lo = fmin(*lo, m->max);
        *hi = fmax(*hi, m->max);
    }
    if (!isfinite(*lo)) {
        *lo = 0;
        *hi = 1;
    }
    double pad = (*hi - *lo) * 0.1;
    if (pad <= 0)
        pad = fabs(*hi) > 0 ? fabs(*hi) * 0.1 : 1;
    *lo -= pad;
    *hi += pad;
}

static void limit_line(cd_buf *out, const frame *f, int y, double lo, double hi, double v,
                       const char *word)
{
    double yy = y + METRIC_H - (v - lo) / (hi - lo) * METRIC_H;
    cd_buf_printf(out, "<line class=\"limit\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                       "stroke=\"#cb181d\" stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%.1f\" "
                       "font-size=\"11\" fill=\"#cb181d\" text-anchor=\"end\">%s %g</text>\n",
                  LEFT, yy, LEFT + f->plot_w, yy, LEFT + f->plot_w - 4, yy - 4, word, v);
}

static void metric_panel(cd_buf *out, const cd_sim_plot *p, const frame *f, size_t k, int y)
{
    const cd_metric *m = p->metrics[k];
    double lo, hi;
    metric_range(p, k, &lo, &hi);
    cd_buf_puts(out, "<g id=\"");
    id_of(out, "metric-", m->name);
    cd_buf_printf(out, "\">\n<text x=\"%d\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">",
                  LEFT, y - 8);
    esc(out, m->name);
    cd_buf_puts(out, "</text>\n");
    for (int i = 0; i <= 2; i++) {
        double v = lo + (hi - lo) * i / 2, yy = y + METRIC_H - (double)i / 2 * METRIC_H;
        cd_buf_printf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                           "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" "
                           "fill=\"#444\">%.4g</text>\n",
                      LEFT, yy, LEFT + f->plot_w, yy, LEFT - 6, yy + 4, v);
    }
    if (m->has_min)
        limit_line(out, f, y, lo, hi, m->min, "min");
    if (m->has_max)
        limit_line(out, f, y, lo, hi, m->max, "max");
    /* one polyline per run of ticks with a value (a gap: no data) */
    bool open = false;
    for (size_t i = 0; i < p->n; i++) {
        float v = p->pts[i].value[k];
        if (isnan(v) || !drawn(p, i)) {
            if (isnan(v) && open) {
                cd_buf_puts(out, "\"/>\n");
                open = false;
            }
            continue;
        }
        if (!open) {
            cd_buf_puts(out, "<polyline class=\"values\" fill=\"none\" stroke=\"#756bb1\" "
                             "stroke-width=\"1.5\" points=\"");
            open = true;
        }
        cd_buf_printf(out, "%.1f,%.1f ", xpos(f, p->pts[i].t_ms),
                      y + METRIC_H - (v - lo) / (hi - lo) * METRIC_H);
    }
    if (open)
        cd_buf_puts(out, "\"/>\n");
    /* each reading as a dot: analysis reads metrics only while it runs */
    for (size_t i = 0; i < p->n; i++) {
        float v = p->pts[i].value[k];
        if (!isnan(v) && drawn(p, i))
            cd_buf_printf(out, "<circle class=\"value\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
                               "fill=\"#756bb1\"><title>%g</title></circle>\n",
                          xpos(f, p->pts[i].t_ms), y + METRIC_H - (v - lo) / (hi - lo) * METRIC_H,
                          (double)v);
    }
    cd_buf_puts(out, "</g>\n");
}

void cd_sim_plot_svg(const cd_sim_plot *p, const char *title, cd_buf *out)
{
    frame f = {.t0 = p->n ? (double)p->pts[0].t_ms : 0,
               .t1 = p->n ? (double)p->pts[p->n - 1].t_ms : 1000,
               .plot_w = W - LEFT - RIGHT};
    if (p->n > 1)   /* the last tick's weights hold for one interval */
        f.t1 += (double)(p->pts[p->n - 1].t_ms - p->pts[0].t_ms) / (double)(p->n - 1);
    int y_weights = TOP + 20, y_phases = y_weights + WEIGHT_H + 10;
    int y_metrics = y_phases + PHASE_H + 18 + GAP;   /* the phase legend between */
    int bottom = y_metrics + (int)p->n_metrics * (METRIC_H + GAP) - (p->n_metrics ? GAP : 0);
    if (!p->n_metrics)
        bottom = y_phases + PHASE_H + 18;
    int h = bottom + AXIS_H + 10;
    cd_buf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                       "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
                       "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                       "<text id=\"title\" x=\"%d\" y=\"26\" font-size=\"16\" font-weight=\"bold\">",
                  W, h, W, h, LEFT);
    esc(out, title);
    cd_buf_puts(out, "</text>\n");
    time_axis(out, &f, y_weights, bottom);
    weights_panel(out, p, &f, y_weights);
    phases_panel(out, p, &f, y_phases);
    for (size_t k = 0; k < p->n_metrics; k++)
        metric_panel(out, p, &f, k, y_metrics + (int)k * (METRIC_H + GAP));
    cd_buf_puts(out, "</svg>\n");
}
