# openwrt/test/make/include/package.mk: our stand-in for OpenWrt's
# package.mk. BuildPackage makes targets that run the package's own
# recipes (install into DESTDIR, Build/Prepare) and write what OpenWrt
# would read from it into $(REPORT): one "name: value" line each.
PKG_BUILD_DIR?=$(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
PKG_INSTALL_DIR?=$(PKG_BUILD_DIR)/ipkg-install

define BuildPackage
$(eval $(Package/$(1)))
.PHONY: install-root prepare report compile
install-root:
	$(call Package/$(1)/install,$(DESTDIR))
prepare:
	$(call Build/Prepare)
compile:
	$(Build/Compile)
report:
	$$(file >$(REPORT),DEPENDS: $(strip $(DEPENDS)))
	$$(file >>$(REPORT),PKG_BUILD_DEPENDS: $(PKG_BUILD_DEPENDS))
	$$(file >>$(REPORT),SECTION: $(SECTION))
	$$(file >>$(REPORT),CATEGORY: $(CATEGORY))
	$$(file >>$(REPORT),conffiles: $(strip $(Package/$(1)/conffiles)))
	$$(file >>$(REPORT),rust-package.mk: $(RUST_PACKAGE_MK))
endef
