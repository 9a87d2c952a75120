/* err.h - the error text and result code every layer returns: cd_err (a
 * message written for users; it ends up in events and logs) and cd_rc.
 * Kept apart from ports.h so that the layers below the engine (util, net,
 * lookup, the load tester, the router client) can report errors without
 * including the engine's interfaces and, through them, the model.
 * It must not include anything of canaryd. */
#ifndef CD_UTIL_ERR_H
#define CD_UTIL_ERR_H

typedef struct cd_err { char msg[512]; } cd_err;

typedef enum {
    CD_OK = 0,
    CD_RETRY,       /* not yet (retriable): wait for the next tick */
    CD_FATAL,       /* non-retriable: stuck past the progress deadline, etc. */
    CD_ERROR,       /* failed this time (API error, ...) */
} cd_rc;

#endif
