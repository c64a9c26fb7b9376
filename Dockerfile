# ratecast: one image with both programs (sse-server is the default command).
# Multi-stage on Debian bookworm: the build stage has the -dev packages, the
# runtime stage only the shared libraries, and runs as an unprivileged user.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libmicrohttpd-dev librabbitmq-dev libcurl4-openssl-dev libcjson-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY common common
COPY fetcher fetcher
COPY sse-server sse-server
COPY tests/fake-coinapi tests/fake-coinapi
RUN make all

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 librabbitmq4 libcurl4 \
      libcjson1 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ratecast
COPY --from=build /src/bin/sse-server /src/bin/fetcher /usr/local/bin/
USER ratecast
EXPOSE 8181
# Only meaningful for the sse-server command; compose turns it off for the fetcher.
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8181/healthz || exit 1
CMD ["sse-server"]
