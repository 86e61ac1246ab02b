# syntax=docker/dockerfile:1
# One image for `runbook server` and `runbook worker`. The binary is
# static (CGO_ENABLED=0); the runtime stage carries the tools actions call:
# a shell, tar, pg_dump/pg_restore, ssh and curl for scripts.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/runbook ./cmd/runbook

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates bash tar gzip postgresql-client openssh-client curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/runbook --create-home runbook
COPY --from=build /out/runbook /usr/local/bin/runbook
COPY examples /usr/share/runbook/examples
USER 10001:10001
WORKDIR /var/lib/runbook
EXPOSE 8080
ENV RUNBOOK_LISTEN=0.0.0.0:8080
ENTRYPOINT ["runbook"]
CMD ["server"]
