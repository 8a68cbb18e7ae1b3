/* Every BTF kind an object can carry, for the BTF specs: decl/type tags, ENUM64, FLOAT,
 * global and static functions, DATASECs with variables, bitfields, function pointers. */
#include <linux/bpf.h>
#include <linux/types.h>
#include "bpf_helpers.h"

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user_ptr __attribute__((btf_type_tag("user")))

enum big_values { BIG_ONE = 1, BIG_HUGE = 0x1234567890ULL };
enum small_values { SMALL_A = -1, SMALL_B = 7 };

struct kinds_sample {
	int id __tag("member_tag");
	unsigned int flag : 1;
	unsigned int level : 3;
	unsigned int rest : 28;
	char name[16];
	double ratio;
	float scale;
	int __user_ptr *uptr;
	int (*callback)(int, void *);
	enum big_values big;
	enum small_values small;
	union {
		__u64 as_u64;
		__u32 as_u32[2];
	} u;
	struct kinds_sample *next;
} __tag("struct_tag");

typedef struct kinds_sample kinds_sample_t;

kinds_sample_t sample_data = { .id = 1 };
int counter_bss;
const volatile int config_rodata = 42;

__attribute__((noinline)) int global_helper(int x) __tag("func_tag")
{
	return x * 2 + counter_bss;
}

static __attribute__((noinline)) int static_helper(int x)
{
	return x + 1;
}

SEC("socket")
int kinds_prog(struct __sk_buff *skb)
{
	counter_bss += global_helper(skb->len) + static_helper((int)config_rodata);
	return sample_data.id + sample_data.level;
}

BPF_LICENSE("GPL");
