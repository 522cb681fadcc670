# tests/fuzz/fuzz.mk - the libFuzzer builds of $(FUZZ_TARGETS), for `make
# fuzz`, which reads this file after the Makefile (GNU make: make -f
# Makefile -f fuzz.mk). Kept out of Makefile.am because a target's sources
# are found by its name, $(tests_fuzz_fuzz_NAME_replay_SOURCES), which
# automake will not have; so a target is listed once, there.
#
# Objects go to tests/fuzz/libfuzzer/, made with $(FUZZ_CC) $(FUZZ_CFLAGS)
# and the build's preprocessor flags, with their header dependencies.
# tests/fuzz/replay.c is left out: libFuzzer brings its own main().

fuzz_objdir = tests/fuzz/libfuzzer
fuzz_sources = $(filter-out $(fuzz_replay),$(filter %.c,$(tests_fuzz_$(notdir $(1))_replay_SOURCES)))
fuzz_objects = $(patsubst %.c,$(fuzz_objdir)/%.o,$(call fuzz_sources,$(1)))

fuzz-build: $(FUZZ_TARGETS)
fuzz-list:
	@echo $(FUZZ_TARGETS)
.PHONY: fuzz-build fuzz-list

# After the generated headers (src/build.h), as the normal build has them.
$(fuzz_objdir)/%.o: $(srcdir)/%.c | $(BUILT_SOURCES)
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) \
	    $(CPPFLAGS) $(LIBCONFIG_CFLAGS) -std=gnu11 -pthread -MMD -MP -c -o $@ $<

define fuzz_link
$(1): $(call fuzz_objects,$(1))
	$$(AM_V_CCLD)$$(FUZZ_CC) $$(FUZZ_CFLAGS) -pthread -o $$@ $$^ \
	    $$(tests_fuzz_$(notdir $(1))_replay_LDADD) $$(LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_link,$(t))))

-include $(shell find $(fuzz_objdir) -name '*.d' 2>/dev/null)
