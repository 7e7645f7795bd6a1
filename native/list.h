/* SPDX-License-Identifier: MIT */
/*
 * list.h - hlist chains linked by entry index, in the kernel's list.h style
 *
 * Entries live in an array (or an arena addressed by index), so a chain
 * stores indexes instead of pointers: a "link" is an entry's index + 1,
 * and 0 ends a chain.  A chain head is a bare uint32_t link; an array of
 * 1 << n of them, all zero, is an empty hash table.  Each entry carries
 * one uint32_t "next" link per chain it is on.
 *
 * Plain C99: no typeof, no statement expressions.
 */
#ifndef OBJHASH_LIST_H
#define OBJHASH_LIST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* the link that ends a chain, and the value of an empty head */
#define IHLIST_END	0u

/* ihlist_link - the link naming entry @index */
static inline uint32_t ihlist_link(uint32_t index)
{
	return index + 1;
}

/* ihlist_index - the entry index named by a non-zero @link */
static inline uint32_t ihlist_index(uint32_t link)
{
	return link - 1;
}

/* ihlist_empty - whether the chain at @head has no entries */
static inline int ihlist_empty(const uint32_t *head)
{
	return *head == IHLIST_END;
}

/* ihlist_init_heads - make @n heads empty */
static inline void ihlist_init_heads(uint32_t *heads, size_t n)
{
	memset(heads, 0, n * sizeof(*heads));
}

/*
 * ihlist_add_head - put entry @index at the front of the chain at @head
 * @next: the entry's own next-link field for this chain
 */
static inline void ihlist_add_head(uint32_t *head, uint32_t *next,
				   uint32_t index)
{
	*next = *head;
	*head = ihlist_link(index);
}

/*
 * ihlist_for_each_entry - walk a chain from its first link
 * @pos: entry pointer, set to each entry in turn
 * @link: uint32_t cursor, the link of @pos (0 once the walk is over)
 * @first: the chain's head value
 * @lookup: function or macro (ctx, index) -> entry pointer
 * @ctx: first argument of @lookup
 * @member: the entry's next-link field for this chain
 *
 * After a complete walk @link is 0; after a break, @pos is valid.
 */
#define ihlist_for_each_entry(pos, link, first, lookup, ctx, member)	\
	for ((link) = (first);						\
	     (link) != IHLIST_END &&					\
		(((pos) = lookup((ctx), ihlist_index(link))), 1);	\
	     (link) = (pos)->member)

#endif /* OBJHASH_LIST_H */
