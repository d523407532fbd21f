# syntax=docker/dockerfile:1
#
# rat-server image with rat-train and rat-client alongside.
#
#   docker build -t rat-misd:0.1.0 .
#   docker run -p 50051:50051 -p 9090:9090 -v $PWD/models:/models:ro \
#     rat-misd:0.1.0 --model fmnist=/models/fmnist-rat.pt \
#     --listen 0.0.0.0:50051 --metrics-listen 0.0.0.0:9090
#
# TORCH=debian (default) builds against Debian's CPU-only LibTorch 1.13.
# TORCH=cuda installs NVIDIA's CUDA runtime from its Debian 12 repository and
# a CUDA build of LibTorch from LIBTORCH_URL (cxx11 ABI, to match Debian's
# gRPC and protobuf), so models can use device cuda:N.
ARG TORCH=debian

FROM debian:bookworm AS build-base
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/setup scripts/setup
# Installs every build and test dependency; the runtime stage takes only the
# libraries the binaries link.
RUN scripts/setup --no-build && rm -rf /var/lib/apt/lists/*

FROM build-base AS build-debian
ENV RAT_CMAKE_ARGS=""

FROM build-base AS build-cuda
ARG CUDA_KEYRING_URL=https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu121/libtorch-cxx11-abi-shared-with-deps-2.1.2%2Bcu121.zip
RUN apt-get update && apt-get install -y --no-install-recommends curl unzip \
    && curl -fsSL -o /tmp/keyring.deb "$CUDA_KEYRING_URL" \
    && dpkg -i /tmp/keyring.deb && apt-get update \
    && apt-get install -y --no-install-recommends cuda-toolkit-12-1 libcudnn8 \
    && curl -fsSL -o /tmp/libtorch.zip "$LIBTORCH_URL" \
    && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/*.zip /tmp/*.deb \
    && rm -rf /var/lib/apt/lists/*
ENV RAT_CMAKE_ARGS="-DCMAKE_PREFIX_PATH=/opt/libtorch -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc"

FROM build-${TORCH} AS build
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DRAT_BUILD_TESTS=OFF -DRAT_BUILD_BENCHMARKS=OFF $RAT_CMAKE_ARGS \
    && cmake --build /build -j "$(nproc)" \
    && install -d /opt/rat/bin \
    && install -m 0755 /build/server/rat-server /build/client/rat-client \
         /build/trainer/rat-train /opt/rat/bin/
# The Debian packages that provide the shared libraries the binaries link;
# libraries outside dpkg (a downloaded LibTorch) are copied instead. BLAS and
# LAPACK are links that Debian's alternatives point at a provider: the
# runtime gets serial OpenBLAS, as scripts/setup installs it (see
# docs/benchmarks.md for why serial).
RUN set -eu; mkdir -p /opt/rat/lib; echo libopenblas0-serial > /opt/rat/runtime-packages; \
    for lib in $(ldd /opt/rat/bin/* | awk '/=> \// {print $3}' | sort -u); do \
      case "$lib" in */libblas.so.3|*/liblapack.so.3) continue ;; esac; \
      if package=$(dpkg -S "$lib" 2>/dev/null | head -n1 | cut -d: -f1); then \
        echo "$package" >> /opt/rat/runtime-packages; \
      else cp -L "$lib" /opt/rat/lib/; fi; \
    done; sort -u -o /opt/rat/runtime-packages /opt/rat/runtime-packages

FROM debian:bookworm-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /opt/rat /opt/rat
RUN apt-get update \
    && xargs -a /opt/rat/runtime-packages apt-get install -y --no-install-recommends \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /nonexistent rat \
    && install -d -o rat -g rat /models
ENV PATH=/opt/rat/bin:$PATH \
    LD_LIBRARY_PATH=/opt/rat/lib
USER 10001:10001
EXPOSE 50051 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["rat-client", "health", "--server", "127.0.0.1:50051"]
ENTRYPOINT ["rat-server"]
CMD ["--config", "/etc/rat-server/server.yaml"]
