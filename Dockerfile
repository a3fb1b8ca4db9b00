# The mlcycle image for users with a registry: `docker build -t mlcycle:dev .`
# CI builds an equivalent image without pulling anything: hack/build-image.
# Runs as a non-root user and with a read-only root filesystem (mount an emptyDir at
# /tmp if a command needs scratch space). ENTRYPOINT is the `mlcycle` CLI.

ARG NODE_IMAGE=node:22-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Install scripts stay off (see .npmrc and package.json "allowScripts"); the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -path '*/linux/*' ! -name x64 -exec rm -rf {} + \
 && find node_modules -type d -empty -delete

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
RUN ln -s /app/bin/mlcycle /usr/local/bin/mlcycle \
 && groupadd --gid 10001 mlcycle \
 && useradd --uid 10001 --gid 10001 --home-dir /home/mlcycle --create-home --shell /usr/sbin/nologin mlcycle
USER 10001:10001
ENTRYPOINT ["mlcycle"]
CMD ["--help"]
