/* dashboard.c - see dashboard.h. HTML and inline SVG written into a
 * buffer; every value from a canary goes through cd_web_escape (text and
 * attributes) or cd_web_path_segment (links). Numbers are formatted here,
 * never taken as text. No I/O. */
#include "web/dashboard.h"
#include "util/timeutil.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

struct cd_embedded_file { const char *name; const char *data; size_t len; };
extern const struct cd_embedded_file cd_embedded_web[];

/* ---- escaping ------------------------------------------------------------ */

void cd_web_escape(cd_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': cd_buf_puts(b, "&amp;"); break;
        case '<': cd_buf_puts(b, "&lt;"); break;
        case '>': cd_buf_puts(b, "&gt;"); break;
        case '"': cd_buf_puts(b, "&quot;"); break;
        case '\'': cd_buf_puts(b, "&#39;"); break;
        default: cd_buf_putc(b, *s);
        }
    }
}

void cd_web_path_segment(cd_buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            cd_buf_putc(b, (char)c);
        else
            cd_buf_printf(b, "%%%02X", c);
    }
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static double num(const json_t *o, const char *key, bool *has)
{
    const json_t *v = json_object_get(o, key);
    if (has)
        *has = json_is_number(v);
    return json_is_number(v) ? json_number_value(v) : 0;
}

/* A number as people read it: no exponent for ordinary values. */
static void put_num(cd_buf *b, double v)
{
    if (!isfinite(v))
        cd_buf_puts(b, "-");
    else if (fabs(v) >= 1e6 || (v != 0 && fabs(v) < 1e-3))
        cd_buf_printf(b, "%.3g", v);
    else
        cd_buf_printf(b, "%.4g", v);
}

/* ---- page frame ------------------------------------------------------------ */

static void head(cd_buf *b, const cd_web_page *o, const char *title)
{
    cd_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    if (o->refresh_s > 0)
        cd_buf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">\n", o->refresh_s);
    cd_buf_puts(b, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<title>");
    cd_web_escape(b, title);
    cd_buf_puts(b, " - canaryd</title>\n<link rel=\"stylesheet\" href=\"");
    cd_web_escape(b, o->base);
    cd_buf_puts(b, "/static/dashboard.css\">\n</head>\n<body>\n<header><a class=\"home\" href=\"");
    cd_web_escape(b, o->base);
    cd_buf_puts(b, "/\">canaryd</a>");
    if (o->csrf) {   /* a session: it can be ended */
        cd_buf_puts(b, "<form class=\"logout\" method=\"post\" action=\"");
        cd_web_escape(b, o->base);
        cd_buf_puts(b, "/logout\"><input type=\"hidden\" name=\"csrf\" value=\"");
        cd_web_escape(b, o->csrf);
        cd_buf_puts(b, "\"><button type=\"submit\">Sign out</button></form>");
    }
    cd_buf_puts(b, "</header>\n<main>\n");
    if (o->notice && *o->notice) {
        cd_buf_puts(b, "<p class=\"notice\" id=\"notice\">");
        cd_web_escape(b, o->notice);
        cd_buf_puts(b, "</p>\n");
    }
}

static void foot(cd_buf *b)
{
    cd_buf_puts(b, "</main>\n</body></html>\n");
}

static void canary_href(cd_buf *b, const cd_web_page *o, const char *ns, const char *name)
{
    cd_web_escape(b, o->base);
    cd_buf_puts(b, "/canaries/");
    cd_web_path_segment(b, ns);
    cd_buf_putc(b, '/');
    cd_web_path_segment(b, name);
}

/* A phase as a badge whose class says how it went. */
static void phase_badge(cd_buf *b, const char *phase)
{
    const char *cls = "idle";
    if (!strcmp(phase, "Progressing") || !strcmp(phase, "Promoting") ||
        !strcmp(phase, "Finalising") || !strncmp(phase, "Waiting", 7))
        cls = "busy";
    else if (!strcmp(phase, "Succeeded"))
        cls = "ok";
    else if (!strcmp(phase, "Failed"))
        cls = "failed";
    cd_buf_printf(b, "<span class=\"phase %s\">", cls);
    cd_web_escape(b, *phase ? phase : "Unknown");
    cd_buf_puts(b, "</span>");
}

/* ---- the list ----------------------------------------------------------- */

void cd_web_list(cd_buf *b, const json_t *items, const cd_web_page *o)
{
    head(b, o, "Canaries");
    cd_buf_puts(b, "<h1>Canaries</h1>\n");
    if (!json_array_size(items)) {
        cd_buf_puts(b, "<p id=\"empty\">No canary yet: add a Canary manifest to the watched "
                       "directory.</p>\n");
        foot(b);
        return;
    }
    cd_buf_puts(b, "<table id=\"canaries\"><thead><tr><th>Namespace</th><th>Name</th>"
                   "<th>Phase</th><th>Weight (canary / primary)</th><th>Failed checks</th>"
                   "<th>Last transition</th></tr></thead>\n<tbody>\n");
    size_t i;
    const json_t *c;
    json_array_foreach(items, i, c) {
        int cw = (int)num(c, "canaryWeight", NULL), pw = (int)num(c, "primaryWeight", NULL);
        cd_buf_puts(b, "<tr class=\"canary\"><td class=\"namespace\">");
        cd_web_escape(b, str(c, "namespace"));
        cd_buf_puts(b, "</td><td class=\"name\"><a href=\"");
        canary_href(b, o, str(c, "namespace"), str(c, "name"));
        cd_buf_puts(b, "\">");
        cd_web_escape(b, str(c, "name"));
        cd_buf_puts(b, "</a></td><td>");
        phase_badge(b, str(c, "phase"));
        cd_buf_printf(b,
                      "</td><td class=\"weight\"><span class=\"canary-weight\">%d</span> / "
                      "<span class=\"primary-weight\">%d</span>"
                      "<span class=\"bar\"><span class=\"bar-canary w%d\"></span></span></td>"
                      "<td class=\"failed-checks\">%d</td><td class=\"time\">",
                      cw, pw, cw < 0 ? 0 : cw > 100 ? 100 : (cw + 2) / 5 * 5,
                      (int)num(c, "failedChecks", NULL));
        cd_web_escape(b, str(c, "lastTransitionTime"));
        cd_buf_puts(b, "</td></tr>\n");
    }
    cd_buf_puts(b, "</tbody></table>\n");
    foot(b);
}

/* ---- charts (inline SVG) ------------------------------------------------ */

#define CH_W 640
#define CH_H 200
#define CH_L 56     /* left margin: the y labels */
#define CH_R 12
#define CH_T 12
#define CH_B 28     /* bottom margin: the time labels */

typedef struct chart {
    double t0, t1, y0, y1;
} chart;

static double cx(const chart *c, double t)
{
    double span = c->t1 > c->t0 ? c->t1 - c->t0 : 1;
    return CH_L + (t - c->t0) / span * (CH_W - CH_L - CH_R);
}

static double cy(const chart *c, double y)
{
    double span = c->y1 > c->y0 ? c->y1 - c->y0 : 1;
    return CH_H - CH_B - (y - c->y0) / span * (CH_H - CH_T - CH_B);
}

/* "HH:MM:SS" of an RFC 3339 time, for the axis. */
static void put_clock(cd_buf *b, const char *rfc3339)
{
    const char *t = strchr(rfc3339, 'T');
    cd_buf_printf(b, "%.8s", t ? t + 1 : rfc3339);
}

static void chart_open(cd_buf *b, const chart *c, const char *id, const char *label,
                       const json_t *points)
{
    cd_buf_puts(b, "<svg class=\"chart\" id=\"");
    cd_web_escape(b, id);
    cd_buf_printf(b, "\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", CH_W, CH_H);
    cd_web_escape(b, label);
    cd_buf_puts(b, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
    cd_buf_printf(b, "<rect class=\"plot\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n",
                  CH_L, CH_T, CH_W - CH_L - CH_R, CH_H - CH_T - CH_B);
    for (int k = 0; k <= 2; k++) {   /* bottom, middle and top of the y axis */
        double v = c->y0 + (c->y1 - c->y0) * k / 2;
        cd_buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>",
                      CH_L, CH_W - CH_R, cy(c, v), cy(c, v));
        cd_buf_printf(b, "<text class=\"ylabel\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
                      CH_L - 6, cy(c, v) + 4);
        put_num(b, v);
        cd_buf_puts(b, "</text>\n");
    }
    size_t n = json_array_size(points);
    if (n) {
        cd_buf_printf(b, "<text class=\"xlabel\" x=\"%d\" y=\"%d\">", CH_L, CH_H - 8);
        put_clock(b, str(json_array_get(points, 0), "time"));
        cd_buf_printf(b, "</text><text class=\"xlabel\" x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                      CH_W - CH_R, CH_H - 8);
        char end[32];   /* the chart's end: the last point, or now */
        put_clock(b, cd_rfc3339((int64_t)c->t1, end));
        cd_buf_puts(b, "</text>\n");
    }
}

/* A step line (weights hold until the next change) or a polyline with
 * dots (measurements) of the points that have a value. */
static void series(cd_buf *b, const chart *c, const json_t *points, const char *cls, int index,
                   const char *key, bool steps)
{
    size_t i, drawn = 0;
    const json_t *p;
    double last_y = 0;
    cd_buf line = CD_BUF_INIT, dots = CD_BUF_INIT;
    json_array_foreach(points, i, p) {
        bool has;
        double v = index >= 0 ? json_number_value(json_array_get(json_object_get(p, "values"),
                                                                  (size_t)index))
                              : num(p, key, &has);
        if (index >= 0)
            has = json_is_number(json_array_get(json_object_get(p, "values"), (size_t)index));
        if (!has || !isfinite(v))
            continue;
        double t = num(p, "timeMs", NULL);
        if (steps && drawn)
            cd_buf_printf(&line, "%.1f,%.1f ", cx(c, t), cy(c, last_y));
        cd_buf_printf(&line, "%.1f,%.1f ", cx(c, t), cy(c, v));
        if (!steps)
            cd_buf_printf(&dots, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", cls,
                          cx(c, t), cy(c, v));
        last_y = v;
        drawn++;
    }
    if (steps && drawn)   /* the last value holds until now (the chart's end) */
        cd_buf_printf(&line, "%.1f,%.1f", cx(c, c->t1), cy(c, last_y));
    if (drawn)
        cd_buf_printf(b, "<polyline class=\"series %s\" points=\"%s\"/>\n%s\n", cls,
                      line.data, dots.len ? dots.data : "");
    cd_buf_free(&line);
    cd_buf_free(&dots);
}

/* From the first point to now (now_ms, when given) or the last point. */
static void time_range(const json_t *points, chart *c, int64_t now_ms)
{
    size_t n = json_array_size(points);
    c->t0 = n ? num(json_array_get(points, 0), "timeMs", NULL) : 0;
    c->t1 = n ? num(json_array_get(points, n - 1), "timeMs", NULL) : 1;
    if ((double)now_ms > c->t1)
        c->t1 = (double)now_ms;
    if (c->t1 <= c->t0)
        c->t1 = c->t0 + 1000;
}

static void legend(cd_buf *b, const char *const *cls, const char *const *labels, size_t n)
{
    cd_buf_puts(b, "<p class=\"legend\">");
    for (size_t i = 0; i < n; i++) {
        cd_buf_printf(b, "<span class=\"key %s\"></span>", cls[i]);
        cd_web_escape(b, labels[i]);
        cd_buf_puts(b, " ");
    }
    cd_buf_puts(b, "</p>\n");
}

static void weights_chart(cd_buf *b, const json_t *points, int64_t now_ms)
{
    chart c = {.y0 = 0, .y1 = 100};
    time_range(points, &c, now_ms);
    cd_buf_puts(b, "<section class=\"weights\"><h2>Weights over time</h2>\n");
    chart_open(b, &c, "chart-weights", "canary and primary weight (percent) over time", points);
    series(b, &c, points, "primary", -1, "primaryWeight", true);
    series(b, &c, points, "canary", -1, "canaryWeight", true);
    cd_buf_puts(b, "</svg>\n");
    static const char *const cls[] = {"canary", "primary"};
    static const char *const labels[] = {"canary weight %", "primary weight %"};
    legend(b, cls, labels, 2);
    cd_buf_puts(b, "</section>\n");
}

/* The metric's spec entry (thresholds) by name, from the detail. */
static const json_t *metric_spec(const json_t *detail, const char *name)
{
    size_t i;
    const json_t *m;
    json_array_foreach(json_object_get(detail, "metrics"), i, m)
        if (!strcmp(str(m, "name"), name))
            return m;
    return NULL;
}

static void threshold_line(cd_buf *b, const chart *c, double v, const char *label)
{
    cd_buf_printf(b, "<line class=\"threshold\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>",
                  CH_L, CH_W - CH_R, cy(c, v), cy(c, v));
    cd_buf_printf(b, "<text class=\"tlabel\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s ",
                  CH_W - CH_R - 4, cy(c, v) - 4, label);
    put_num(b, v);
    cd_buf_puts(b, "</text>\n");
}

static void metric_chart(cd_buf *b, const json_t *detail, const json_t *points, size_t index,
                         const char *name, int64_t now_ms)
{
    const json_t *spec = metric_spec(detail, name);
    bool has_min, has_max, any = false;
    double tmin = num(spec, "min", &has_min), tmax = num(spec, "max", &has_max);
    chart c = {0};
    time_range(points, &c, now_ms);
    size_t i;
    const json_t *p;
    json_array_foreach(points, i, p) {
        const json_t *v = json_array_get(json_object_get(p, "values"), index);
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            continue;
        double d = json_number_value(v);
        c.y0 = any ? fmin(c.y0, d) : d;
        c.y1 = any ? fmax(c.y1, d) : d;
        any = true;
    }
    if (has_min) {
        c.y0 = any ? fmin(c.y0, tmin) : tmin;
        c.y1 = any ? fmax(c.y1, tmin) : tmin;
        any = true;
    }
    if (has_max) {
        c.y0 = any ? fmin(c.y0, tmax) : tmax;
        c.y1 = any ? fmax(c.y1, tmax) : tmax;
    }
    double pad = (c.y1 - c.y0) * 0.1;
    if (pad <= 0)
        pad = fabs(c.y1) * 0.1 + 1;
    c.y0 -= pad;
    c.y1 += pad;
    if (c.y0 < 0 && (!any || c.y0 + pad >= 0))
        c.y0 = 0;   /* rates and durations are not negative */
    cd_buf_puts(b, "<section class=\"metric\"><h3>");
    cd_web_escape(b, name);
    cd_buf_puts(b, "</h3>\n");
    char id[64];
    snprintf(id, sizeof id, "chart-metric-%zu", index);
    cd_buf label = CD_BUF_INIT;
    cd_buf_printf(&label, "%s over time against its threshold", name);
    chart_open(b, &c, id, label.data, points);
    cd_buf_free(&label);
    if (has_min)
        threshold_line(b, &c, tmin, "min");
    if (has_max)
        threshold_line(b, &c, tmax, "max");
    series(b, &c, points, "value", (int)index, NULL, false);
    cd_buf_puts(b, "</svg>\n</section>\n");
}

/* ---- one canary ---------------------------------------------------------- */

bool cd_web_can_promote(const char *phase)
{
    return !strcmp(phase, "Progressing") || !strcmp(phase, "Waiting") ||
           !strcmp(phase, "WaitingPromotion");
}

bool cd_web_can_abort(const char *phase)
{
    return cd_web_can_promote(phase);
}

static void action_form(cd_buf *b, const cd_web_page *o, const char *ns, const char *name,
                        const char *action, const char *label)
{
    cd_buf_puts(b, "<form method=\"post\" action=\"");
    canary_href(b, o, ns, name);
    cd_buf_printf(b, "/%s\"><input type=\"hidden\" name=\"csrf\" value=\"", action);
    cd_web_escape(b, o->csrf);
    cd_buf_printf(b, "\"><button type=\"submit\" id=\"%s\" class=\"%s\">", action, action);
    cd_web_escape(b, label);
    cd_buf_puts(b, "</button></form>\n");
}

static void summary(cd_buf *b, const json_t *d)
{
    const json_t *a = json_object_get(d, "analysis");
    cd_buf_puts(b, "<dl class=\"summary\"><dt>Phase</dt><dd id=\"phase\">");
    phase_badge(b, str(d, "phase"));
    cd_buf_printf(b,
                  "</dd><dt>Weight</dt><dd>canary <span id=\"canary-weight\">%d</span>%%, "
                  "primary <span id=\"primary-weight\">%d</span>%%</dd>",
                  (int)num(d, "canaryWeight", NULL), (int)num(d, "primaryWeight", NULL));
    cd_buf_printf(b, "<dt>Failed checks</dt><dd id=\"failed-checks\">%d of %d</dd>",
                  (int)num(d, "failedChecks", NULL), (int)num(a, "threshold", NULL));
    cd_buf_puts(b, "<dt>Analysis</dt><dd>");
    if (*str(a, "strategy")) {
        cd_web_escape(b, str(a, "strategy"));
        cd_buf_puts(b, ", ");
    }
    if (*str(a, "interval")) {   /* as the manifest says it ("1m") */
        cd_buf_puts(b, "every ");
        cd_web_escape(b, str(a, "interval"));
    } else {
        cd_buf_printf(b, "every %ds", (int)num(a, "intervalSeconds", NULL));
    }
    cd_buf_printf(b, ", step %d%% up to %d%%</dd>", (int)num(a, "stepWeight", NULL),
                  (int)num(a, "maxWeight", NULL));
    const json_t *w = json_object_get(d, "workload");
    if (w) {
        cd_buf_puts(b, "<dt>Revision</dt><dd id=\"revision\">");
        cd_web_escape(b, str(w, "revision"));
        cd_buf_printf(b, "</dd><dt>Ready</dt><dd>primary %d/%d, canary %d/%d</dd>",
                      (int)num(json_object_get(w, "primary"), "ready", NULL),
                      (int)num(json_object_get(w, "primary"), "desired", NULL),
                      (int)num(json_object_get(w, "canary"), "ready", NULL),
                      (int)num(json_object_get(w, "canary"), "desired", NULL));
    }
    const json_t *g = json_object_get(d, "gates");
    if (json_is_true(json_object_get(g, "promotionHeld")) ||
        json_is_true(json_object_get(g, "rolloutHeld")) ||
        json_is_true(json_object_get(g, "rollbackRequested"))) {
        cd_buf_printf(b, "<dt>Gates</dt><dd id=\"gates\">%s%s%s</dd>",
                      json_is_true(json_object_get(g, "promotionHeld")) ? "promotion held " : "",
                      json_is_true(json_object_get(g, "rolloutHeld")) ? "rollout held " : "",
                      json_is_true(json_object_get(g, "rollbackRequested")) ? "rollback requested"
                                                                            : "");
    }
    cd_buf_puts(b, "</dl>\n");
}

static void metrics_table(cd_buf *b, const json_t *d)
{
    const json_t *ms = json_object_get(d, "metrics");
    if (!json_array_size(ms))
        return;
    cd_buf_puts(b, "<table id=\"metrics\"><thead><tr><th>Metric</th><th>Last value</th>"
                   "<th>Threshold</th><th>Result</th><th>At</th></tr></thead><tbody>\n");
    size_t i;
    const json_t *m;
    json_array_foreach(ms, i, m) {
        bool hv, hmin, hmax;
        double v = num(m, "value", &hv), mn = num(m, "min", &hmin), mx = num(m, "max", &hmax);
        cd_buf_puts(b, "<tr><td>");
        cd_web_escape(b, str(m, "name"));
        cd_buf_puts(b, "</td><td class=\"value\">");
        if (hv)
            put_num(b, v);
        else
            cd_buf_puts(b, "-");
        cd_buf_puts(b, "</td><td>");
        if (hmin) {
            cd_buf_puts(b, "min ");
            put_num(b, mn);
            cd_buf_puts(b, " ");
        }
        if (hmax) {
            cd_buf_puts(b, "max ");
            put_num(b, mx);
        }
        const json_t *passed = json_object_get(m, "passed");
        cd_buf_printf(b, "</td><td class=\"%s\">",
                      !passed ? "" : json_is_true(passed) ? "ok" : "failed");
        cd_buf_puts(b, !passed ? "not measured yet" : json_is_true(passed) ? "passed" : "failed");
        if (*str(m, "message")) {
            cd_buf_puts(b, ": ");
            cd_web_escape(b, str(m, "message"));
        }
        cd_buf_puts(b, "</td><td class=\"time\">");
        cd_web_escape(b, str(m, "at"));
        cd_buf_puts(b, "</td></tr>\n");
    }
    cd_buf_puts(b, "</tbody></table>\n");
}

/* The baseline a judged metric used (status.judge[].history): its status
 * (Used, FellBack, Missing, Unused, Off) and the sentence saying what the
 * primary showed before the release, or why the judge fell back to the
 * same windows. Empty for a status written before the history existed. */
static void judge_baseline(cd_buf *b, const json_t *h)
{
    const char *status = str(h, "status");
    cd_buf_printf(b, "<td class=\"baseline %s\">",
                  !strcmp(status, "FellBack") ? "fell-back" : !strcmp(status, "Used") ? "ok" : "");
    if (*status) {
        cd_web_escape(b, status);
        if (*str(h, "reason"))
            cd_buf_puts(b, ": ");
    }
    cd_web_escape(b, str(h, "reason"));
    cd_buf_puts(b, "</td>");
}

static void judge_table(cd_buf *b, const json_t *d)
{
    const json_t *js = json_object_get(json_object_get(d, "status"), "judge");
    if (!json_array_size(js))
        return;
    cd_buf_puts(b, "<section id=\"judge\"><h2>The judge's verdicts</h2>\n<table><thead><tr>"
                   "<th>Metric</th><th>Test</th><th>Verdict</th><th>Estimate</th>"
                   "<th>Interval</th><th>p-value</th><th>Reason</th><th>Baseline</th>"
                   "</tr></thead><tbody>\n");
    size_t i;
    const json_t *j;
    json_array_foreach(js, i, j) {
        const char *verdict = str(j, "verdict");
        cd_buf_puts(b, "<tr><td>");
        cd_web_escape(b, str(j, "metric"));
        cd_buf_puts(b, "</td><td>");
        cd_web_escape(b, str(j, "test"));
        cd_buf_printf(b, "</td><td class=\"verdict %s\">",
                      !strcmp(verdict, "pass") ? "ok" : !strcmp(verdict, "fail") ? "failed" : "");
        cd_web_escape(b, verdict);
        cd_buf_puts(b, "</td><td>");
        put_num(b, num(j, "estimate", NULL));
        cd_buf_puts(b, " ");
        cd_web_escape(b, str(j, "unit"));
        cd_buf_puts(b, "</td><td>[");
        put_num(b, num(j, "lower", NULL));
        cd_buf_puts(b, ", ");
        put_num(b, num(j, "upper", NULL));
        cd_buf_puts(b, "]</td><td>");
        put_num(b, num(j, "pValue", NULL));
        cd_buf_puts(b, "</td><td>");
        cd_web_escape(b, str(j, "reason"));
        cd_buf_puts(b, "</td>");
        judge_baseline(b, json_object_get(j, "history"));
        cd_buf_puts(b, "</tr>\n");
    }
    cd_buf_puts(b, "</tbody></table></section>\n");
}

static void events_table(cd_buf *b, const json_t *d)
{
    const json_t *ev = json_object_get(d, "events");
    cd_buf_puts(b, "<section><h2>Events</h2>\n");
    if (!ev) {   /* this server does not keep them (canaryd kube: Kubernetes Events) */
        cd_buf_puts(b, "<p id=\"events-elsewhere\">The events are Kubernetes Events: "
                       "<code>kubectl describe canary ");
        cd_web_escape(b, str(d, "name"));
        cd_buf_puts(b, " -n ");
        cd_web_escape(b, str(d, "namespace"));
        cd_buf_puts(b, "</code></p></section>\n");
        return;
    }
    if (!json_array_size(ev)) {
        cd_buf_puts(b, "<p>No event yet.</p></section>\n");
        return;
    }
    cd_buf_puts(b, "<table id=\"events\"><thead><tr><th>Time</th><th>Type</th><th>Phase</th>"
                   "<th>Message</th></tr></thead><tbody>\n");
    for (size_t i = json_array_size(ev); i-- > 0;) {   /* newest first */
        const json_t *e = json_array_get(ev, i);
        cd_buf_printf(b, "<tr class=\"event %s\"><td class=\"time\">",
                      !strcmp(str(e, "type"), "Warning") ? "warning" : "normal");
        cd_web_escape(b, str(e, "ts"));
        cd_buf_puts(b, "</td><td>");
        cd_web_escape(b, str(e, "type"));
        cd_buf_puts(b, "</td><td>");
        cd_web_escape(b, str(e, "phase"));
        cd_buf_puts(b, "</td><td>");
        cd_web_escape(b, str(e, "message"));
        cd_buf_puts(b, "</td></tr>\n");
    }
    cd_buf_puts(b, "</tbody></table></section>\n");
}

void cd_web_canary(cd_buf *b, const json_t *d, const json_t *history, const cd_web_page *o)
{
    const char *name = str(d, "name"), *ns = str(d, "namespace"), *phase = str(d, "phase");
    cd_buf title = CD_BUF_INIT;
    cd_buf_printf(&title, "%s.%s", name, ns);
    head(b, o, title.data);
    cd_buf_free(&title);
    cd_buf_puts(b, "<h1><span id=\"name\">");
    cd_web_escape(b, name);
    cd_buf_puts(b, "</span> <small id=\"namespace\">");
    cd_web_escape(b, ns);
    cd_buf_puts(b, "</small></h1>\n");
    summary(b, d);
    if (o->csrf && (cd_web_can_promote(phase) || cd_web_can_abort(phase))) {
        cd_buf_puts(b, "<div class=\"actions\">\n");
        if (cd_web_can_promote(phase))
            action_form(b, o, ns, name, "promote", "Promote");
        if (cd_web_can_abort(phase))
            action_form(b, o, ns, name, "abort", "Abort (roll back)");
        cd_buf_puts(b, "</div>\n");
    }
    const json_t *points = json_object_get(history, "points");
    if (!history) {
        cd_buf_puts(b, "<p id=\"no-history\">This server keeps no history of weights and "
                       "metric values (canaryd local does).</p>\n");
    } else if (!json_array_size(points)) {
        cd_buf_puts(b, "<p id=\"no-history\">No history yet: the charts start with the "
                       "canary's next analysis.</p>\n");
    } else {
        weights_chart(b, points, o->now_ms);
        const json_t *names = json_object_get(history, "metrics");
        if (json_array_size(names))
            cd_buf_puts(b, "<section class=\"metrics\"><h2>Metrics over time</h2>\n");
        for (size_t k = 0; k < json_array_size(names); k++)
            metric_chart(b, d, points, k, json_string_value(json_array_get(names, k)) ?: "",
                         o->now_ms);
        if (json_array_size(names)) {
            static const char *const cls[] = {"value", "threshold"};
            static const char *const labels[] = {"measured value", "threshold"};
            legend(b, cls, labels, 2);
            cd_buf_puts(b, "</section>\n");
        }
    }
    metrics_table(b, d);
    judge_table(b, d);
    events_table(b, d);
    foot(b);
}

/* ---- login and messages -------------------------------------------------- */

void cd_web_login(cd_buf *b, const cd_web_page *o, const char *error)
{
    head(b, o, "Sign in");
    cd_buf_puts(b, "<h1>Sign in</h1>\n");
    if (error) {
        cd_buf_puts(b, "<p class=\"error\" id=\"error\">");
        cd_web_escape(b, error);
        cd_buf_puts(b, "</p>\n");
    }
    cd_buf_puts(b, "<p>The dashboard takes the API's token (canaryctl's: the file <code>"
                   "api-ADDRESS.token</code> in canaryd's runtime directory, or "
                   "<code>--api-token-file</code>).</p>\n<form method=\"post\" action=\"");
    cd_web_escape(b, o->base);
    cd_buf_puts(b, "/login\"><label>Token <input type=\"password\" name=\"token\" "
                   "autocomplete=\"current-password\" required></label> "
                   "<button type=\"submit\">Sign in</button></form>\n");
    foot(b);
}

void cd_web_message(cd_buf *b, const cd_web_page *o, const char *title, const char *text)
{
    head(b, o, title);
    cd_buf_puts(b, "<h1>");
    cd_web_escape(b, title);
    cd_buf_puts(b, "</h1>\n<p id=\"message\">");
    cd_web_escape(b, text);
    cd_buf_puts(b, "</p>\n");
    foot(b);
}

/* ---- static files --------------------------------------------------------- */

bool cd_web_static(const char *name, const char **data, size_t *len, const char **type)
{
    for (const struct cd_embedded_file *f = cd_embedded_web; f->name; f++) {
        if (strcmp(f->name, name))
            continue;
        *data = f->data;
        *len = f->len;
        size_t n = strlen(name);
        *type = n > 4 && !strcmp(name + n - 4, ".css") ? "text/css; charset=utf-8"
                                                        : "application/octet-stream";
        return true;
    }
    return false;
}
