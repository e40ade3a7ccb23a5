# openwrt/test/make/rules.mk: our stand-in for OpenWrt's rules.mk, only
# what openwrt/meshd/Makefile uses, with OpenWrt's install modes.
INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR?=$(TOPDIR)/build_dir
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
CP:=cp -fpR
LN:=ln -sf
