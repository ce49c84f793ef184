# Written by shaobing baseline harden: files are not readable by other users by default.
umask 027
