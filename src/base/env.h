/* Environment variables that tools set to override options (pt2lite.h, "Environment variables"). */
#ifndef P2L_BASE_ENV_H
#define P2L_BASE_ENV_H

/* The variable's value when it is set, not empty and not "0"; NULL otherwise. */
const char *p2l_env_flag(const char *name);

#endif
