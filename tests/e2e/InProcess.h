// An in-process machine of the test's own (ntbox::machine::Machine): test signing on, the named
// drivers installed as demand-start services, debug output collected; removed afterwards.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "machine/Machine.h"

namespace ntbox::test {

class InProcessMachine : public testing::Test {
 protected:
  // Creates the machine directory with a service per driver (drivers/NAME.sys, service NAME).
  void Install(std::initializer_list<const char*> drivers) {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(testing::TempDir()) /
           ("ntbox_ip_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    auto m = machine::Machine::Boot(dir_);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE((*m)->StoreBootConfig(machine::BootConfig{true, false}));
    for (const char* name : drivers) {
      machine::ServiceConfig config;
      config.name = name;
      config.imagePath = machine::Machine::ToImagePath(std::string(NTBOX_DRIVER_DIR) + "/" + name + ".sys", "/");
      ASSERT_TRUE((*m)->CreateService(config));
    }
  }
  void Boot() {
    auto m = machine::Machine::Boot(dir_);
    ASSERT_TRUE(m) << m.error().message;
    machine_ = std::move(*m);
    log_ = machine_->AddDebugListener([this](const machine::LoggedRecord& r) {
      std::lock_guard lock(outputMutex_);
      output_ += r.text;
    });
  }
  void TearDown() override {
    if (machine_) machine_->RemoveDebugListener(log_);
    machine_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string Output() {
    std::lock_guard lock(outputMutex_);
    return output_;
  }
  // An IOCTL whose reply is the plain struct T.
  template <class T>
  T Ask(machine::Handle h, std::uint32_t code, std::span<const std::uint8_t> in = {}) {
    std::vector<std::uint8_t> out;
    T result{};
    auto r = machine_->DeviceIoControl(h, code, in, out, sizeof(T));
    EXPECT_TRUE(r) << r.error().message;
    if (!r) return result;
    EXPECT_EQ(r->status, 0) << std::hex << r->status << "\n" << Output();
    EXPECT_EQ(out.size(), sizeof(T));
    std::memcpy(&result, out.data(), std::min(out.size(), sizeof(T)));
    return result;
  }

  std::filesystem::path dir_;
  std::unique_ptr<machine::Machine> machine_;
  int log_ = 0;
  std::mutex outputMutex_;
  std::string output_;
};

}  // namespace ntbox::test
