/*
 * A program that calls a function nobody defines. clang leaves an undefined symbol and a call
 * relocation against it; the loader must refuse with a message naming the symbol instead of
 * loading garbage.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

extern int nowhere_defined(int x);

SEC("socket")
int calls_missing(struct __sk_buff *skb)
{
	return nowhere_defined(1);
}

BPF_LICENSE("GPL");
