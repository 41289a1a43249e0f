/* howto.h -- the one line printed when the conformance suites are absent. */
#ifndef VOXTELEM_CONFORMANCE_HOWTO_H
#define VOXTELEM_CONFORMANCE_HOWTO_H
#define CONFORMANCE_HOWTO                                                              \
  "no conformance suites found; set VOXTELEM_CONFORMANCE=/path/to/conformance, run " \
  "'git submodule update --init', or put the shared folder at ../shared/conformance"
#endif
