# Event readers (issue 6): benchmark of ring buffer consumption and the test dependencies of
# spec/events_*_spec.lua.
#
#   make bench-events   C ceiling (libbpf's ring_buffer), our C reader, the Lua call floor and
#                       our Lua reader under lua5.4 and luajit; prints figures and ratios
#
# libbpf is linked into build/bench/ringbuf_c only (the comparison); the product never uses it.
# The Lua floor module links the core library (its ring floor walks the ring with it).

BENCH_DIR := $(BUILD)/bench
BENCH_RECORDS ?= 6000000

.PHONY: bench-events events-test-deps

$(BENCH_DIR)/ringbuf_c: bench/ringbuf_c.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore/include -o $@ $< $(CORE_LIB) -lbpf $(LDLIBS)

$(BENCH_DIR)/lua5.4/ringbuf_floor.so: bench/ringbuf_floor.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LUA54_INC) -Icore/include -shared -Wl,--exclude-libs,ALL -o $@ $< \
		$(CORE_LIB) $(LDLIBS)

$(BENCH_DIR)/luajit/ringbuf_floor.so: bench/ringbuf_floor.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LUAJIT_INC) -Icore/include -shared -Wl,--exclude-libs,ALL -o $@ $< \
		$(CORE_LIB) $(LDLIBS)

bench-events: mount
	$(MAKE) --no-print-directory -j$(JOBS) bpf/events_bench.bpf.o $(LUA54_MODULE) \
		$(LUAJIT_MODULE) $(BENCH_DIR)/ringbuf_c $(BENCH_DIR)/lua5.4/ringbuf_floor.so \
		$(BENCH_DIR)/luajit/ringbuf_floor.so
	bash bench/ringbuf_run.sh $(BENCH_DIR) $(BENCH_RECORDS)

# luv and cqueues for the event-loop specs and examples (Debian packages).
events-test-deps:
	@for p in lua-luv lua-cqueues; do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || \
		missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "events: installing$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing || \
		echo "events: warning: could not install$$missing (the luv/cqueues specs will be pending)"; \
	fi

TEST_DEPS += events-test-deps
