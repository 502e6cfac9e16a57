# stagedoor container image: a static binary on distroless, running as a non-root user.
#
#   docker build -t stagedoor .
#   docker run --rm -p 7007:7007 \
#     -v "$PWD/app-config.yaml:/etc/stagedoor/app-config.yaml:ro" \
#     -e AUTH_OIDC_CLIENT_SECRET -e STAGEDOOR_SESSION_SECRET \
#     stagedoor
#
# Configuration: mount Backstage's app-config.yaml (and overrides) under /etc/stagedoor and
# pass secrets as environment variables referenced with ${VAR} in it. The embedded SQLite file
# (the default ./stagedoor.sqlite) lives in /var/lib/stagedoor; mount a volume there to keep
# it, or use PostgreSQL (stagedoor.database) for replicas. stagedoor.listen must not be bound
# to 127.0.0.1 inside a container (the default, 0.0.0.0:7007, is right).

# --- build: a fully static binary (musl) ---
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked \
 && install -D -m 0755 target/release/stagedoor /out/usr/local/bin/stagedoor \
 && install -d -m 0755 -o 65532 -g 65532 /out/var/lib/stagedoor

# --- runtime: no shell, no package manager; CA certificates for TLS to IdPs and databases ---
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /
USER 65532:65532
WORKDIR /var/lib/stagedoor
EXPOSE 7007
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/stagedoor"]
CMD ["serve", "--config", "/etc/stagedoor/app-config.yaml"]
