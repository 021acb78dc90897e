# Cross-compiling for 64-bit Arm Linux with Debian's cross toolchain
# (apt-get install g++-aarch64-linux-gnu qemu-user), so the NEON variant can be built and its
# tests run on an x86-64 machine:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DSHEARS_NODE_ADDON=OFF -DSHEARS_CUDA=OFF
#   qemu-aarch64 -L /usr/aarch64-linux-gnu ./build-arm64/kernel_test --quick
# (ctest in build-arm64 runs it through qemu: CMAKE_CROSSCOMPILING_EMULATOR below.)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(SHEARS_CROSS_PREFIX aarch64-linux-gnu-)
set(CMAKE_C_COMPILER ${SHEARS_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${SHEARS_CROSS_PREFIX}g++)

# Headers and libraries from the target's sysroot only; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(SHEARS_QEMU_AARCH64 qemu-aarch64)
if(SHEARS_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SHEARS_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
