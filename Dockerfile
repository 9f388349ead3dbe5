# mcreplay CLI image: Node 20 slim, tcpdump for `mirror`, runs as a non-root user.
# Build: docker build -t mcreplay:latest .   (the Kubernetes Jobs in deploy/kubernetes/ run it)
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
RUN apt-get update && apt-get install -y --no-install-recommends tcpdump && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin mcreplay
WORKDIR /opt/mcreplay
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
RUN ln -s /opt/mcreplay/bin/mcreplay.js /usr/local/bin/mcreplay
USER 10001
WORKDIR /home/mcreplay
# the Jobs override the command with a shell line (deploy/kubernetes/*.yaml); by hand: docker run mcreplay replay ...
ENTRYPOINT ["mcreplay"]
CMD ["--help"]
