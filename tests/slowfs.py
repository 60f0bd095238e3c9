"""A slow network file system, for tests: a FUSE loopback of ROOT at MOUNT where every
operation first waits DELAY seconds (an NFS server far away, a loaded Lustre MDS), and where
a stall can be injected (a server that stops answering for a while).

    python tests/slowfs.py ROOT MOUNT DELAY [STALL_FILE]

When STALL_FILE exists, the next write to a file whose name ends with ``.partial`` (a log
gp2bm is writing) waits the number of seconds it holds; the file is removed then.

Runs in the foreground until unmounted (``umount MOUNT`` or ``fusermount3 -u MOUNT``).
Needs /dev/fuse, libfuse 3 and the ``mfusepy`` package.
"""

from __future__ import annotations

import errno
import os
import sys
import time

import mfusepy as fuse


class SlowLoopback(fuse.Operations):
    use_ns = True

    def __init__(self, root: str, delay: float, stall_file: str | None = None):
        self.root = os.path.realpath(root)
        self.delay = delay
        self.stall_file = stall_file

    def _stall(self, path: str) -> None:
        if self.stall_file is None or not path.endswith(".partial"):
            return
        try:
            with open(self.stall_file) as fh:
                seconds = float(fh.read())
            os.unlink(self.stall_file)
        except (OSError, ValueError):
            return
        time.sleep(seconds)

    def _real(self, path: str) -> str:
        time.sleep(self.delay)
        return self.root + path

    def access(self, path, amode):
        if not os.access(self._real(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def chmod(self, path, mode):
        return os.chmod(self._real(path), mode)

    def chown(self, path, uid, gid):
        return os.chown(self._real(path), uid, gid)

    def create(self, path, mode, fi=None):
        return os.open(self._real(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def flush(self, path, fh):
        time.sleep(self.delay)
        return 0

    def fsync(self, path, datasync, fh):
        time.sleep(self.delay)
        return os.fdatasync(fh) if datasync else os.fsync(fh)

    def getattr(self, path, fh=None):
        st = os.lstat(self._real(path))
        keys = ("st_atime_ns", "st_ctime_ns", "st_gid", "st_mode", "st_mtime_ns", "st_nlink",
                "st_size", "st_uid", "st_blocks", "st_ino")
        attrs = {k: getattr(st, k) for k in keys}
        for k in ("st_atime", "st_ctime", "st_mtime"):
            attrs[k] = attrs.pop(k + "_ns")
        return attrs

    def link(self, target, source):
        return os.link(self._real(source), self._real(target))

    def mkdir(self, path, mode):
        return os.mkdir(self._real(path), mode)

    def mknod(self, path, mode, dev):
        return os.mknod(self._real(path), mode, dev)

    def open(self, path, flags):
        return os.open(self._real(path), flags)

    def read(self, path, size, offset, fh):
        time.sleep(self.delay)
        return os.pread(fh, size, offset)

    def readdir(self, path, fh):
        return [".", "..", *os.listdir(self._real(path))]

    def readlink(self, path):
        return os.readlink(self._real(path))

    def release(self, path, fh):
        return os.close(fh)

    def rename(self, old, new):
        return os.rename(self._real(old), self._real(new))

    def rmdir(self, path):
        return os.rmdir(self._real(path))

    def statfs(self, path):
        sv = os.statvfs(self._real(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
                "f_flag", "f_frsize", "f_namemax")
        return {k: getattr(sv, k) for k in keys}

    def symlink(self, target, source):
        return os.symlink(source, self._real(target))

    def truncate(self, path, length, fh=None):
        if fh is not None:
            time.sleep(self.delay)
            return os.ftruncate(fh, length)
        return os.truncate(self._real(path), length)

    def unlink(self, path):
        return os.unlink(self._real(path))

    def utimens(self, path, times=None):
        return os.utime(self._real(path), ns=times)

    def write(self, path, data, offset, fh):
        time.sleep(self.delay)
        self._stall(path)
        return os.pwrite(fh, data, offset)


if __name__ == "__main__":
    root, mount, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    stall = sys.argv[4] if len(sys.argv) > 4 else None
    fuse.FUSE(SlowLoopback(root, delay, stall), mount, foreground=True, nothreads=False)
