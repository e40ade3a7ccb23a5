# openwrt/test/make/feeds/packages/lang/rust/rust-package.mk: our
# stand-in for the packages feed's helper: the same names (the arch
# condition, Build/Compile/Cargo taking the crate's path), and a compile
# that only says what cargo would be asked to do.
RUST_ARCH_DEPENDS:=@(aarch64||arm||i386||i686||mips||mipsel||mips64||mips64el||powerpc64||riscv64||x86_64)

define Build/Compile/Cargo
	@echo "cargo install --root $(PKG_INSTALL_DIR) --path $(PKG_BUILD_DIR)/$(strip $(1))" >$(REPORT)
endef

Build/Compile=$(call Build/Compile/Cargo)
