"""make install: programs, libraries, headers, man pages and pkg-config files.

Why this exists: users build against the installed libraries with
pkg-config, so the install layout is part of what we ship.  This test runs
`make install DESTDIR=<tmp> PREFIX=/usr` from the build under test, checks
every file lands, then compiles and runs small programs against the
installed headers and libraries using only `pkg-config` (with
PKG_CONFIG_SYSROOT_DIR pointing into DESTDIR), as a user would.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tbtest  # noqa: E402

ADAPTOR_PROGRAM = r'''
#include <thingsbus_adaptor.h>
#include <stdio.h>
int main(void) {
    tb_adaptor_options_t o;
    tb_adaptor_options_init(&o);
    printf("%s\n", tb_adaptor_strerror(TB_ERR_BAD_NS));
    return 0;
}
'''

CLIENT_PROGRAM = r'''
#include <thingsbus_client.h>
#include <stdio.h>
int main(void) {
    tb_client_options_t o;
    tb_client_options_init(&o);
    printf("%s\n", tb_client_strerror(TB_ERR_NO_DATA));
    return 0;
}
'''


BOTH_PROGRAM = r'''
#include <thingsbus_adaptor.h>
#include <thingsbus_client.h>
#include <stdio.h>
int main(void) {
    printf("%s / %s\n", tb_adaptor_strerror(TB_ERR_BAD_NS), tb_client_strerror(TB_ERR_NO_DATA));
    return 0;
}
'''


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="tb-install-")
        build = os.path.relpath(tbtest.BUILD, tbtest.TOP)
        # The same flags the build under test was made with, so make finds
        # everything up to date instead of relinking with other flags.
        flags = ["SAN=1", "OPT=-O1"] if os.environ.get("TB_SANITIZED") else []
        r = subprocess.run(["make", "--no-print-directory", "-C", tbtest.TOP, "B=" + build,
                            "install", "DESTDIR=" + cls.dest, "PREFIX=/usr"] + flags,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        cls.install_output = r.stdout.decode(errors="replace")
        cls.install_rc = r.returncode
        cls.root = os.path.join(cls.dest, "usr")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def test_install_succeeds(self):
        self.assertEqual(self.install_rc, 0, self.install_output[-3000:])

    def test_files_present(self):
        expected = [
            "sbin/thingsbusd",
            "bin/tb-print-events",
            "bin/tb-generic-zmq-adaptor",
            "lib/libthingsbus-adaptor.so.0", "lib/libthingsbus-adaptor.so",
            "lib/libthingsbus-adaptor.a",
            "lib/libthingsbus-client.so.0", "lib/libthingsbus-client.so",
            "lib/libthingsbus-client.a",
            "lib/pkgconfig/thingsbus-adaptor.pc", "lib/pkgconfig/thingsbus-client.pc",
            "include/thingsbus_adaptor.h", "include/thingsbus_client.h",
            "include/thingsbus_errors.h",
            "share/man/man8/thingsbusd.8", "share/man/man7/thingsbus.7",
            "share/man/man1/tb-print-events.1", "share/man/man1/tb-generic-zmq-adaptor.1",
            "share/man/man3/thingsbus_adaptor.3", "share/man/man3/thingsbus_client.3",
            "share/doc/thingsbus/thingsbusd.conf",
        ]
        missing = [p for p in expected if not os.path.lexists(os.path.join(self.root, p))]
        self.assertEqual(missing, [], "not installed: %s" % missing)

    def _build_and_run(self, source, pc, expect, static=False):
        work = tempfile.mkdtemp(prefix="tb-install-prog-")
        try:
            src = os.path.join(work, "prog.c")
            with open(src, "w") as f:
                f.write(source)
            env = dict(os.environ)
            env["PKG_CONFIG_PATH"] = os.path.join(self.root, "lib", "pkgconfig")
            env["PKG_CONFIG_SYSROOT_DIR"] = self.dest
            # For the static case we name the dependencies ourselves:
            # Debian's openpgm .pc file breaks `pkg-config --static` for
            # anything that requires libzmq.
            deps = ["libzmq", "libczmq", "jansson", "libcares", "msgpack"] if static else []
            flags = subprocess.run(["pkg-config", "--cflags", "--libs"] + pc.split() + deps, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(flags.returncode, 0, flags.stderr.decode())
            exe = os.path.join(work, "prog")
            words = flags.stdout.decode().split()
            if static:
                # our two archives statically, the system libraries dynamically
                ours = [w for w in words if w.startswith("-lthingsbus")]
                rest = [w for w in words if w not in ours]
                words = ["-Wl,-Bstatic"] + ours + ["-Wl,-Bdynamic"] + rest + ["-lpthread", "-lm"]
            cc = subprocess.run(["cc", "-o", exe, src] + words,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            self.assertEqual(cc.returncode, 0, cc.stdout.decode())
            env["LD_LIBRARY_PATH"] = os.path.join(self.root, "lib")
            run = subprocess.run([exe], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(run.returncode, 0, run.stderr.decode())
            self.assertIn(expect, run.stdout.decode())
            ldd = subprocess.run(["ldd", exe], env=env, stdout=subprocess.PIPE, timeout=30)
            if static:
                self.assertNotIn("libthingsbus", ldd.stdout.decode())
            else:
                self.assertIn(os.path.join(self.root, "lib"), ldd.stdout.decode())
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def test_adaptor_pkgconfig_program(self):
        if os.environ.get("TB_SANITIZED"):
            self.skipTest("sanitized libraries need the sanitizer runtime in user programs")
        self._build_and_run(ADAPTOR_PROGRAM, "thingsbus-adaptor", "namespace")

    def test_client_pkgconfig_program(self):
        if os.environ.get("TB_SANITIZED"):
            self.skipTest("sanitized libraries need the sanitizer runtime in user programs")
        self._build_and_run(CLIENT_PROGRAM, "thingsbus-client", "no data")

    def test_both_static_archives_in_one_program(self):
        # Each archive carries its own copy of common/ and proto/, made
        # local; linking both must not clash.
        if os.environ.get("TB_SANITIZED"):
            self.skipTest("sanitized libraries need the sanitizer runtime in user programs")
        self._build_and_run(BOTH_PROGRAM, "thingsbus-adaptor thingsbus-client",
                            "namespace", static=True)

    def test_both_shared_libraries_in_one_program(self):
        if os.environ.get("TB_SANITIZED"):
            self.skipTest("sanitized libraries need the sanitizer runtime in user programs")
        self._build_and_run(BOTH_PROGRAM, "thingsbus-adaptor thingsbus-client", "no data")

    def test_installed_config_points_at_var_lib(self):
        conf = os.path.join(self.dest, "etc", "thingsbus", "thingsbusd.conf")
        self.assertTrue(os.path.exists(conf), "no %s" % conf)
        with open(conf) as f:
            text = f.read()
        self.assertIn("/var/lib/thingsbus/", text)

    def test_installed_broker_runs(self):
        r = subprocess.run([os.path.join(self.root, "sbin", "thingsbusd"), "--version"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("thingsbusd", (r.stdout + r.stderr).decode())


if __name__ == "__main__":
    tbtest.main()
