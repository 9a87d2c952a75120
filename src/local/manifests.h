/* manifests.h - the desired state of the local platform: every object in
 * the manifest files of one directory (*.yaml, *.yml, *.json, not
 * recursive), kept up to date with inotify. Editing or adding a file is
 * applying it. A file that stops being valid is rejected as a whole: its
 * diagnostics are kept and its previous objects stay in force, so nothing
 * is ever half-applied. Deleting a file removes its objects.
 *
 * cd_manifest_dir_apply is `canaryctl apply`: it validates a manifest and
 * only then writes it into the directory (atomically), so an invalid one
 * changes nothing.
 *
 * Not thread-safe: owned by the controller's main loop. Objects handed
 * out are retained by the caller when kept beyond the next poll. */
#ifndef CD_LOCAL_MANIFESTS_H
#define CD_LOCAL_MANIFESTS_H
#include "model/object.h"

typedef struct cd_manifest_dir cd_manifest_dir;

/* Loads every file now. NULL with errno when the directory is unusable. */
cd_manifest_dir *cd_manifest_dir_open(const char *dir, const char *default_namespace);
void cd_manifest_dir_close(cd_manifest_dir *d);
const char *cd_manifest_dir_path(const cd_manifest_dir *d);
/* The inotify descriptor, readable when something changed. */
int cd_manifest_dir_fd(const cd_manifest_dir *d);

/* Reads pending inotify events and reloads the files they name. Returns
 * true when the object set changed. Diagnostics of files that were
 * (re)loaded are added to diags. */
bool cd_manifest_dir_poll(cd_manifest_dir *d, cd_diags *diags);
/* Reloads every file (also the ones inotify did not report). */
bool cd_manifest_dir_rescan(cd_manifest_dir *d, cd_diags *diags);

/* Validates text as a manifest (name is for diagnostics). When valid,
 * writes it to the directory as <file_hint or kind-namespace-name>.yaml and
 * loads it. Returns the number of errors (0 = applied). */
size_t cd_manifest_dir_apply(cd_manifest_dir *d, const char *name, const char *text, size_t len,
                             cd_diags *diags);

/* Current objects (valid ones of all files), in file order. */
size_t cd_manifest_dir_count(const cd_manifest_dir *d);
cd_object *cd_manifest_dir_at(const cd_manifest_dir *d, size_t i);
cd_object *cd_manifest_dir_find(const cd_manifest_dir *d, cd_kind kind, const char *ns,
                                const char *name);
/* Diagnostics of the last load of each currently rejected file. */
const cd_diags *cd_manifest_dir_rejections(const cd_manifest_dir *d);

#endif
