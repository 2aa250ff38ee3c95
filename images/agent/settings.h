/* Applies the job's kernel settings in order (docs/protocol.md section 1): write, read back,
 * compare by the bracket rule, and report a `setting` record or an `error` record carrying the
 * kernel's own answer. */
#ifndef FOLIOLAB_AGENT_SETTINGS_H
#define FOLIOLAB_AGENT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"

/* The value a knob reports as selected: the token in the first [...] when the text has '[',
 * otherwise the whole text without surrounding whitespace. */
void setting_selected_value(const char *readback, char *out, size_t outlen);

/* True for the values that mean "off" ("N", "0", "never"): a missing knob satisfies them
 * when the setting says absent_ok. */
bool setting_value_means_off(const char *value);

/* Whether a read-back (as setting_selected_value gives it) satisfies the wanted value: equal
 * text, or, for a rounds_up knob, a number at least the wanted one ("7" for "4"). */
bool setting_matches(const char *actual, const char *wanted, bool rounds_up);

/* Applies every setting (all of them, so one run reports every refused value).
 * Returns the number of error records emitted. */
int settings_apply(const struct job *job);

#endif
