/* struct_ops through a map update (.struct_ops): see kern_tcp_cc.h. */
#include "kern_tcp_cc.h"

SEC(".struct_ops")
LBPF_CC_OPS(lbpf_cc, "lbpf_cc");
