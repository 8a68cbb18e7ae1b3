# Faults and limits (issue #11): `make check-soak` runs scripts/check-soak.sh — 10,000 cycles of
# open + load + attach + detach + close per interpreter (explicit close, then GC-only), kill -9,
# pinned links, fd and memory limits, scripts run as an unprivileged user — and prints a summary.
# SOAK_CYCLES=N changes the cycle count. The cheap part runs in `make test` (spec/soak_spec.lua).
SOAK_CYCLES ?= 10000
.PHONY: check-soak
check-soak: deps mount
	$(MAKE) --no-print-directory -j$(JOBS) core bpf $(LUA54_MODULE) $(LUAJIT_MODULE) test-deps
	SOAK_CYCLES=$(SOAK_CYCLES) bash scripts/check-soak.sh
