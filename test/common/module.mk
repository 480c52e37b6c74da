# test/common/: unit tests of the small shared pieces of common/ that have
# no other home: list options of tb_opts, the log limiter's final count,
# the error-buffer helper and the string hash.
$(eval $(call unit_test,test_opts_list,test/common/test_opts_list.c,tbcommon))
$(eval $(call unit_test,test_log_suppressed,test/common/test_log_suppressed.c,tbcommon))
$(eval $(call unit_test,test_common_helpers,test/common/test_common_helpers.c,tbcommon))
