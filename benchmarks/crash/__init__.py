"""An operator's crash, disk-full and SIGTERM harness for ``renkei serve`` (issue 16).

Black box: it starts ``renkei serve`` as a child process, reads the target file it
writes and talks to it over mutual TLS with the certificates that file names; it
never imports the reference (nor the kit).  ``python -m benchmarks.crash --help``;
benchmarks/crash/README.md says what each figure means."""
