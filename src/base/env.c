/* Environment overrides: one rule for what "set" means, for every variable. */
#include "base/env.h"

#include <stdlib.h>
#include <string.h>

const char *p2l_env_flag(const char *name) {
    const char *value = getenv(name);
    return value && *value && strcmp(value, "0") != 0 ? value : NULL;
}
