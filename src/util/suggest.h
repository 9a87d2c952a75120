/* suggest.h - "did you mean ...?": the closest of a set of candidate words
 * to a misspelled one (optimal string alignment distance: insertions,
 * deletions, substitutions and transpositions of two neighbours). Used by
 * the flag parser for unknown flags and by the validator for unknown
 * fields. Pure, no allocation. */
#ifndef CD_SUGGEST_H
#define CD_SUGGEST_H
#include <stddef.h>

typedef struct cd_suggest {
    const char *word;     /* what was typed */
    const char *best;     /* the closest candidate offered so far, or NULL */
    int best_distance;
} cd_suggest;

void cd_suggest_init(cd_suggest *s, const char *word);
/* Considers one candidate; it is kept when closer than any before and
 * close enough to be a likely typo (at most 1 edit for words up to 4
 * characters, 2 up to 8, 3 beyond). Candidates equal to the word are
 * ignored. */
void cd_suggest_offer(cd_suggest *s, const char *candidate);

/* The edit distance itself; words longer than 63 bytes compare as far
 * apart (INT_MAX / 2). */
int cd_edit_distance(const char *a, const char *b);

#endif
