# broker/: thingsbusd, the broker daemon, and its unit tests (test/broker/).
$(eval $(call unit_test,test_opts,test/broker/test_opts.c,tbcommon))
$(eval $(call unit_test,test_log,test/broker/test_log.c,tbcommon))
$(eval $(call unit_test,test_directory,test/broker/test_directory.c broker/directory.c,tbcommon))

# bench_directory: bytes per Thing at 1M Things (a benchmark; built with the
# tests, never run by run-tests.sh because its name does not start with test_).
$(B)/test/bench_directory: $(call objs,test/broker/bench_directory.c broker/directory.c) $(B)/lib/libtbcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(B)/lib/libtbcommon.a $(LDLIBS_ALL)
TEST_TARGETS += $(B)/test/bench_directory

BROKER_SRCS := broker/main.c broker/config.c broker/loop.c broker/input_zmq.c \
               broker/input_udp.c broker/handle_update.c broker/directory.c \
               broker/publish.c broker/snapshot.c broker/stats.c broker/persist.c \
               broker/v2_service.c
$(eval $(call program,thingsbusd,$(BROKER_SRCS),tbv2srv tbproto tbstore tbcommon))
INSTALL_SBIN += thingsbusd

# The installed configuration (state file under /var/lib/thingsbus): put in
# SYSCONFDIR/thingsbus/ unless the admin already has one there, and always
# as an example under share/doc/thingsbus/.  SYSCONFDIR is /etc for
# PREFIX=/usr, PREFIX/etc otherwise.
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
install: install-broker-config
install-broker-config:
	install -d $(DESTDIR)$(SYSCONFDIR)/thingsbus $(DESTDIR)$(PREFIX)/share/doc/thingsbus
	install -m 644 broker/thingsbusd.conf $(DESTDIR)$(PREFIX)/share/doc/thingsbus/thingsbusd.conf
	[ -e $(DESTDIR)$(SYSCONFDIR)/thingsbus/thingsbusd.conf ] || \
	    install -m 644 broker/thingsbusd.conf $(DESTDIR)$(SYSCONFDIR)/thingsbus/thingsbusd.conf
.PHONY: install-broker-config
