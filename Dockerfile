# ratecast: one image with the programs (sse-server is the default command;
# fetcher, and fake-coinapi for docker-compose's demo profile).
# Multi-stage on Debian bookworm: the build stage has the -dev packages, the
# runtime stage only the shared libraries, and runs as an unprivileged user.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libmicrohttpd-dev librabbitmq-dev libcurl4-openssl-dev libcjson-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
# The Makefile includes the fuzzing rules; only the file is needed.
COPY tests/fuzz/fuzz.mk tests/fuzz/fuzz.mk
COPY common common
COPY fetcher fetcher
COPY sse-server sse-server
COPY tools/fake-coinapi tools/fake-coinapi
# Only the programs the image ships (`make all` also builds the benchmark's
# tools from the rest of tools/, which is not copied in).
RUN make bin/sse-server bin/fetcher bin/fake-coinapi

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 librabbitmq4 libcurl4 \
      libcjson1 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --no-create-home --no-log-init --shell /usr/sbin/nologin ratecast
# A fixed uid above the system range (no --system: useradd warns when a
# system account's uid is outside SYS_UID_MIN..SYS_UID_MAX); --no-log-init
# keeps lastlog/faillog from growing to that uid's offset.
COPY --from=build /src/bin/sse-server /src/bin/fetcher /src/bin/fake-coinapi /usr/local/bin/
COPY deploy/compose/fetcher-healthcheck /usr/local/bin/
USER ratecast
# No EXPOSE: the image also runs the fetcher and fake-coinapi, which do not
# listen on 8181; docker-compose.yml says what each service listens on.
# Only meaningful for the sse-server command; compose gives the others their own.
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8181/healthz || exit 1
CMD ["sse-server"]
