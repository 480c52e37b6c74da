# test/adaptor/: the driver the Python integration tests script, and the
# cmocka tests of the firmware packer, the queue and the suppression table.
$(eval $(call program,adaptor_driver,test/adaptor/adaptor_driver.c,thingsbus-adaptor))
$(eval $(call unit_test,test_adaptor_units,test/adaptor/test_adaptor_units.c,thingsbus-adaptor_int))
