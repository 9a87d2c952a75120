/* suggest.c - closest-word suggestions; see suggest.h. */
#include "util/suggest.h"
#include <ctype.h>
#include <limits.h>
#include <string.h>

#define MAXW 64

static int min3(int a, int b, int c)
{
    int m = a < b ? a : b;
    return m < c ? m : c;
}

/* case-insensitive: "maxweight" is one edit-free step from "maxWeight" in
 * a user's mind, and counts as distance 0 here */
static int same(char a, char b)
{
    return tolower((unsigned char)a) == tolower((unsigned char)b);
}

int cd_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n >= MAXW || m >= MAXW)
        return INT_MAX / 2;
    int d[MAXW][MAXW];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int cost = same(a[i - 1], b[j - 1]) ? 0 : 1;
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]) &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    }
    return d[n][m];
}

void cd_suggest_init(cd_suggest *s, const char *word)
{
    s->word = word ? word : "";
    s->best = NULL;
    s->best_distance = INT_MAX;
}

static int allowed(size_t len)
{
    return len <= 4 ? 1 : len <= 8 ? 2 : 3;
}

void cd_suggest_offer(cd_suggest *s, const char *candidate)
{
    if (!candidate || !strcmp(candidate, s->word))
        return;
    int d = cd_edit_distance(s->word, candidate);
    if (d > allowed(strlen(s->word)) || d >= s->best_distance)
        return;
    s->best = candidate;
    s->best_distance = d;
}
