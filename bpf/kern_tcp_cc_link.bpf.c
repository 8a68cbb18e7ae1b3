/* struct_ops through a bpf_link (.struct_ops.link, 6.4+): see kern_tcp_cc.h. */
#include "kern_tcp_cc.h"

SEC(".struct_ops.link")
LBPF_CC_OPS(lbpf_cc_link, "lbpf_cc_link");
