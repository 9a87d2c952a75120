/* hash.h - the hashes canaryd writes into status: FNV-1a and Flagger's
 * "safe encoded" hash string (lastAppliedSpec, checksum). Pure. */
#ifndef CD_HASH_H
#define CD_HASH_H
#include <stddef.h>
#include <stdint.h>

uint32_t cd_fnv1a32(const void *data, size_t len);
uint64_t cd_fnv1a64(const void *data, size_t len);
/* Flagger's ComputeHash encoding: the decimal FNV-1a-32 sum with each digit
 * mapped through "bcdfghjklmnpqrstvwxz2456789". out needs 11 bytes. */
char *cd_flagger_hash(const void *data, size_t len, char out[16]);

#endif
