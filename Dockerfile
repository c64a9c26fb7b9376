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
COPY tests/fake-coinapi tests/fake-coinapi
# Only the programs the image ships (`make all` also builds the load client
# from bench/, which is not copied in).
RUN make bin/sse-server bin/fetcher bin/fake-coinapi

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 librabbitmq4 libcurl4 \
      libcjson1 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ratecast
COPY --from=build /src/bin/sse-server /src/bin/fetcher /src/bin/fake-coinapi /usr/local/bin/
USER ratecast
EXPOSE 8181
# Only meaningful for the sse-server command; compose turns it off for the others.
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8181/healthz || exit 1
CMD ["sse-server"]
