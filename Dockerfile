# syntax=docker/dockerfile:1
# txworker image: a static binary on distroless, running as a numeric non-root user.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t ghcr.io/txworker/txworker:TAG .

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# set by BuildKit from --platform (this file needs BuildKit: RUN --mount)
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
# Modules first, so source changes do not re-download them.
RUN --mount=type=bind,source=go.mod,target=go.mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=cache,target=/go/pkg/mod \
    go mod download
RUN --mount=type=bind,target=. \
    --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.version=${VERSION}" -o /out/txworker ./cmd/txworker

# distroless/static: no shell, no package manager, CA certificates and tzdata only.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/txworker /txworker
# 65532 is distroless' "nonroot"; numeric so that runAsNonRoot can verify it.
USER 65532:65532
# /metrics, /healthz, /readyz (TXWORKER_HTTP_ADDR)
EXPOSE 8080
ENTRYPOINT ["/txworker", "run"]
