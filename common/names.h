/*
 * names.h - the one spelling of Loom's names: node names, user names and
 * cluster names are [A-Za-z0-9_.-]{1,max} (max 63 for node and user names,
 * which config, loomctl and the PKI all enforce).
 */
#ifndef LOOM_COMMON_NAMES_H
#define LOOM_COMMON_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static inline bool loom_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* s is 1..max characters, each a loom_name_char; NULL is not a name. */
static inline bool loom_name_valid(const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!loom_name_char(s[i]))
			return false;
	return true;
}

#endif
