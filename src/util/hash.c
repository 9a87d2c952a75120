/* hash.c - FNV-1a and Flagger's hash string encoding. */
#include "util/hash.h"
#include <stdio.h>
#include <string.h>

uint32_t cd_fnv1a32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

uint64_t cd_fnv1a64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

char *cd_flagger_hash(const void *data, size_t len, char out[16])
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char dec[16];
    snprintf(dec, sizeof dec, "%u", cd_fnv1a32(data, len));
    size_t n = strlen(dec);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[(unsigned char)dec[i] % 27];
    out[n] = '\0';
    return out;
}
