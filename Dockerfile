# stagedoor container image: one static binary on an empty base (no shell, no package
# manager, no libc), running as user 65532. Nothing is pulled: there is no base image.
#
# The build context is the directory scripts/image.sh stages: rootfs/ holds the static binary
# (usr/local/bin/stagedoor), the build machine's CA bundle (etc/ssl/certs/ca-certificates.crt),
# deploy/image/{passwd,group,nsswitch.conf} in etc/, and an empty var/lib; data/ is empty.
#
#   scripts/image.sh podman                 # or buildah, or docker; builds stagedoor:latest
#   # which is: scripts/image.sh && podman build -t stagedoor -f Dockerfile target/image
#   #      (or: buildah bud -t stagedoor -f Dockerfile target/image,
#   #           docker build -t stagedoor -f Dockerfile target/image)
#
#   docker run --rm -p 7007:7007 \
#     -v "$PWD/app-config.yaml:/etc/stagedoor/app-config.yaml:ro" \
#     -e AUTH_OIDC_CLIENT_SECRET -e STAGEDOOR_SESSION_SECRET \
#     stagedoor
#
# Configuration: mount Backstage's app-config.yaml (and overrides) under /etc/stagedoor and
# pass secrets as environment variables referenced with ${VAR} in it. The embedded SQLite file
# (the default ./stagedoor.sqlite) lives in /var/lib/stagedoor; mount a volume there to keep
# it, or use PostgreSQL for replicas (deploy/kubernetes). stagedoor.listen must not be bound to
# 127.0.0.1 inside a container (the default, 0.0.0.0:7007, is right).
FROM scratch
COPY rootfs/ /
# The only directory the user owns (its parents stay root's).
COPY --chown=65532:65532 data/ /var/lib/stagedoor/
USER 65532:65532
WORKDIR /var/lib/stagedoor
EXPOSE 7007
ENTRYPOINT ["/usr/local/bin/stagedoor"]
CMD ["serve", "--config", "/etc/stagedoor/app-config.yaml"]
