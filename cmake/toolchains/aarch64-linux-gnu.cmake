# Cross-compile swattn for 64-bit Arm Linux on a Debian x86-64 host and run
# its tests under user-mode QEMU.
#
# Needs (see .ci/install-deps): dpkg --add-architecture arm64;
#   g++-aarch64-linux-gnu libhwy-dev:arm64 libtbb-dev:arm64 qemu-user-static
#
#   cmake -S . -B build-aarch64 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#   cmake --build build-aarch64 && ctest --test-dir build-aarch64
#
# ctest prefixes every test whose command is an executable target with
# CMAKE_CROSSCOMPILING_EMULATOR: qemu with `-cpu max`, which exposes NEON,
# SVE and SVE2. Tests that need another CPU model (`-cpu cortex-a72`: NEON
# only) can build their own command line from SWATTN_QEMU_AARCH64 and
# SWATTN_QEMU_SYSROOT (see below for why it is "/"):
#   add_test(NAME t COMMAND ${SWATTN_QEMU_AARCH64} -cpu cortex-a72
#                           -L ${SWATTN_QEMU_SYSROOT} $<TARGET_FILE:t>)
# or from SWATTN_EMULATOR_CORTEX_A72, the whole prefix as a list
# (SWATTN_EMULATOR_SVE128 and SWATTN_EMULATOR_SVE2048: `-cpu max` with 128-
# and 2048-bit SVE vectors).

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(SWATTN_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${SWATTN_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${SWATTN_CROSS_TRIPLE}-g++)

# Debian multiarch: the :arm64 packages live in /usr/lib/aarch64-linux-gnu,
# so find_package(hwy) and find_package(TBB) find
# /usr/lib/aarch64-linux-gnu/cmake/{hwy,TBB}. Headers in /usr/include are
# shared between architectures.
set(CMAKE_LIBRARY_ARCHITECTURE ${SWATTN_CROSS_TRIPLE})

# No CMAKE_FIND_ROOT_PATH: the host's x86-64 libraries live in
# /usr/lib/x86_64-linux-gnu, which a search for this architecture never
# visits, and programs (python3, pkg-config) must come from the host anyway.

# The emulator. The guest's dynamic loader must come from the same glibc
# build as the libc it loads. The :arm64 packages pull in libc6:arm64, whose
# loader /lib/ld-linux-aarch64.so.1 and libc live in the host's multiarch
# directories, and the host's /etc/ld.so.cache lists them. Pointing qemu at
# the cross-compiler's runtime (-L /usr/aarch64-linux-gnu, libc6-arm64-cross)
# would pair that loader with libc6:arm64's libc.so.6 from the cache: their
# versions differ (2.36-8cross1 vs 2.36-9+deb12uN), and pthread_create then
# spins forever walking the loader's stack cache (every oneTBB worker start
# hangs). So the prefix is "/", which qemu treats as "no prefix": binaries
# built against the cross glibc run on the matching-version arm64 glibc.
find_program(SWATTN_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(NOT SWATTN_QEMU_AARCH64)
  set(SWATTN_QEMU_AARCH64 qemu-aarch64-static)
endif()
set(SWATTN_QEMU_SYSROOT / CACHE PATH
    "qemu -L prefix for the aarch64 tests ('/': the host's multiarch libc6:arm64)")
set(SWATTN_EMULATOR_CPU_MAX
    ${SWATTN_QEMU_AARCH64} -cpu max -L ${SWATTN_QEMU_SYSROOT})
set(SWATTN_EMULATOR_CORTEX_A72
    ${SWATTN_QEMU_AARCH64} -cpu cortex-a72 -L ${SWATTN_QEMU_SYSROOT})
# SVE at its narrowest, 128-bit vectors, as most SVE2 cores ship it: 4 lanes,
# tiles of 8 rows.
set(SWATTN_EMULATOR_SVE128
    ${SWATTN_QEMU_AARCH64} -cpu max,sve-default-vector-length=16
    -L ${SWATTN_QEMU_SYSROOT})
# SVE at its widest, 2048-bit vectors (qemu's default is 512): 64 lanes,
# tiles of 128 rows.
set(SWATTN_EMULATOR_SVE2048
    ${SWATTN_QEMU_AARCH64} -cpu max,sve-default-vector-length=256
    -L ${SWATTN_QEMU_SYSROOT})
set(CMAKE_CROSSCOMPILING_EMULATOR ${SWATTN_EMULATOR_CPU_MAX})
