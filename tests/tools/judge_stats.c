/* judge_stats.c - the judge's statistics as a line protocol, so that
 * tests/integration/test_judge_scipy.py can compare them with SciPy: one
 * JSON object per input line ({"fn": "...", arguments}), one JSON object
 * per output line ({"v": ...} or {"error": "..."}). Test helper only. */
#include "judge/mannwhitney.h"
#include "judge/sequential.h"
#include "judge/stats.h"
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double num(const json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static double *array(const json_t *o, const char *k, size_t *n)
{
    const json_t *a = json_object_get(o, k);
    *n = json_array_size(a);
    double *v = malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++) {
        const json_t *x = json_array_get(a, i);
        v[i] = json_is_null(x) ? NAN : json_number_value(x);
    }
    return v;
}

static json_t *real(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *mw(const json_t *in)
{
    size_t nx, ny;
    double *x = array(in, "x", &nx), *y = array(in, "y", &ny);
    cd_mw r;
    json_t *out = json_object();
    if (cd_mw_test(x, nx, y, ny, &r)) {
        json_object_set_new(out, "u", real(r.u));
        json_object_set_new(out, "var", real(r.var));
        json_object_set_new(out, "z", real(r.z));
        json_object_set_new(out, "p_greater", real(r.p_greater));
        json_object_set_new(out, "p_less", real(r.p_less));
        json_object_set_new(out, "p_two_sided", real(r.p_two_sided));
        json_object_set_new(out, "exact", json_boolean(r.exact));
        json_object_set_new(out, "ties", json_boolean(r.ties));
    } else {
        json_object_set_new(out, "error", json_string("empty sample"));
    }
    free(x);
    free(y);
    return out;
}

static json_t *hl(const json_t *in)
{
    size_t nx, ny;
    double *x = array(in, "x", &nx), *y = array(in, "y", &ny);
    cd_hl r;
    json_t *out = json_object();
    if (cd_hl_shift(x, nx, y, ny, num(in, "confidence"), &r)) {
        json_object_set_new(out, "estimate", real(r.estimate));
        json_object_set_new(out, "lower", real(r.lower));
        json_object_set_new(out, "upper", real(r.upper));
        json_object_set_new(out, "exact", json_boolean(r.exact));
    } else {
        json_object_set_new(out, "error", json_string("empty sample"));
    }
    free(x);
    free(y);
    return out;
}

static json_t *hyper(const json_t *in)
{
    size_t n;
    double *lp = array(in, "log_psi", &n);
    double *res = malloc((n ? n : 1) * sizeof *res);
    cd_hyper h;
    json_t *out;
    if (cd_hyper_init(&h, num(in, "n1"), num(in, "n2"), num(in, "t"))) {
        cd_hyper_log_mgf(&h, lp, n, res);
        json_t *v = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(v, real(res[i]));
        out = json_pack("{s:o}", "v", v);
    } else {
        out = json_pack("{s:s}", "error", "bad counts");
    }
    free(lp);
    free(res);
    return out;
}

static json_t *odds(const json_t *in)
{
    double lr[CD_ODDS_STATE] = {0};
    const json_t *ws = json_object_get(in, "windows");
    for (size_t i = 0; i < json_array_size(ws); i++) {
        const json_t *w = json_array_get(ws, i);
        cd_odds_update(lr, json_number_value(json_array_get(w, 0)),
                       json_number_value(json_array_get(w, 1)),
                       json_number_value(json_array_get(w, 2)),
                       json_number_value(json_array_get(w, 3)));
    }
    json_t *grid = json_array(), *v = json_array();
    for (size_t i = 0; i < CD_ODDS_STATE; i++) {
        json_array_append_new(grid, real(cd_odds_grid_psi(i)));
        json_array_append_new(v, real(lr[i]));
    }
    return json_pack("{s:o,s:o,s:f}", "psi", grid, "log_lr", v, "log_e",
                     cd_odds_log_e(lr, (int)num(in, "direction")));
}

static json_t *call(const json_t *in)
{
    const char *fn = json_string_value(json_object_get(in, "fn"));
    if (!fn)
        return json_pack("{s:s}", "error", "no fn");
    if (!strcmp(fn, "norm_quantile"))
        return json_pack("{s:o}", "v", real(cd_norm_quantile(num(in, "p"))));
    if (!strcmp(fn, "norm_cdf"))
        return json_pack("{s:o}", "v", real(cd_norm_cdf(num(in, "x"))));
    if (!strcmp(fn, "norm_logcdf"))
        return json_pack("{s:o}", "v", real(cd_norm_logcdf(num(in, "x"))));
    if (!strcmp(fn, "t_cdf"))
        return json_pack("{s:o}", "v", real(cd_t_cdf(num(in, "x"), num(in, "df"))));
    if (!strcmp(fn, "t_quantile"))
        return json_pack("{s:o}", "v", real(cd_t_quantile(num(in, "p"), num(in, "df"))));
    if (!strcmp(fn, "beta_inc"))
        return json_pack("{s:o}", "v",
                         real(cd_beta_inc(num(in, "a"), num(in, "b"), num(in, "x"))));
    if (!strcmp(fn, "exact_cdf"))
        return json_pack("{s:o}", "v",
                         real(cd_mw_exact_cdf((size_t)num(in, "m"), (size_t)num(in, "n"),
                                              num(in, "u"))));
    if (!strcmp(fn, "mw"))
        return mw(in);
    if (!strcmp(fn, "hl"))
        return hl(in);
    if (!strcmp(fn, "hyper_log_mgf"))
        return hyper(in);
    if (!strcmp(fn, "odds"))
        return odds(in);
    return json_pack("{s:s}", "error", "unknown fn");
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0) {
        json_error_t e;
        json_t *in = json_loads(line, 0, &e);
        json_t *out = in ? call(in) : json_pack("{s:s}", "error", e.text);
        char *text = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(17));
        puts(text ? text : "{}");
        fflush(stdout);
        free(text);
        json_decref(out);
        json_decref(in);
    }
    free(line);
    return 0;
}
