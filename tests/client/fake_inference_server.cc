#include "tests/client/fake_inference_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rat::client::testing {
namespace {

using rat::v1::ScoreType;

bool Near(double a, double b) { return std::abs(a - b) < 1e-12; }

// True where the score's parameters in `options` are its preferred ones.
bool AtPreferredParameters(ScoreType type,
                           const rat::v1::ScoreOptions& options) {
  switch (type) {
    case rat::v1::SCORE_TYPE_ODIN:
      return Near(options.odin_temperature(), 1.5) &&
             Near(options.odin_epsilon(), 2e-4);
    case rat::v1::SCORE_TYPE_RR_FAST:
      return Near(options.rr_fast_temperature(), 0.8);
    default:
      return true;
  }
}

void WriteBigEndian(std::ofstream& file, uint32_t value) {
  const char bytes[4] = {
      static_cast<char>(value >> 24), static_cast<char>(value >> 16),
      static_cast<char>(value >> 8), static_cast<char>(value)};
  file.write(bytes, 4);
}

}  // namespace

double FakeScore(ScoreType type, const uint8_t* pixels,
                 const rat::v1::ScoreOptions& options) {
  if (AtPreferredParameters(type, options)) return pixels[1] / 255.0;
  return pixels[2] / 255.0;
}

grpc::Status FakeInferenceService::Predict(
    grpc::ServerContext*, const rat::v1::PredictRequest* request,
    rat::v1::PredictResponse* response) {
  ++predict_calls_;
  if (request->model() != kFakeModel) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("model \"", request->model(), "\" is not loaded"));
  }
  for (const rat::v1::Image& image : request->images()) {
    const std::string& data = image.tensor().data();
    if (data.size() != 16) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "model \"fake\" expects 1x4x4 uint8 images");
    }
    if (static_cast<uint8_t>(data[3]) == 255) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "poisoned image");
    }
  }

  response->set_model(request->model());
  for (const rat::v1::Image& image : request->images()) {
    const auto* pixels =
        reinterpret_cast<const uint8_t*>(image.tensor().data().data());
    rat::v1::Prediction* prediction = response->add_predictions();
    prediction->set_label(pixels[0] % 3);
    for (int type : request->scores()) {
      rat::v1::ScoreValue* score = prediction->add_scores();
      score->set_type(static_cast<ScoreType>(type));
      score->set_value(
          FakeScore(static_cast<ScoreType>(type), pixels, request->options()));
    }
    const double msr = pixels[1] / 255.0;
    rat::v1::Decision* decision = prediction->mutable_decision();
    decision->set_accepted(msr >= kFakeThreshold);
    decision->set_score(rat::v1::SCORE_TYPE_MSR);
    decision->set_value(msr);
    decision->set_threshold(kFakeThreshold);
  }
  return grpc::Status::OK;
}

grpc::Status FakeInferenceService::ListModels(
    grpc::ServerContext*, const rat::v1::ListModelsRequest*,
    rat::v1::ListModelsResponse* response) {
  rat::v1::ModelSummary* model = response->add_models();
  model->set_name(kFakeModel);
  model->set_architecture("fake");
  model->mutable_input_shape()->set_channels(1);
  model->mutable_input_shape()->set_height(4);
  model->mutable_input_shape()->set_width(4);
  model->set_num_classes(3);
  model->set_device("cpu");
  model->set_ready(true);
  return grpc::Status::OK;
}

grpc::Status FakeInferenceService::GetModel(
    grpc::ServerContext* context, const rat::v1::GetModelRequest* request,
    rat::v1::GetModelResponse* response) {
  if (request->name() != kFakeModel) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("model \"", request->name(), "\" is not loaded"));
  }
  rat::v1::ListModelsResponse models;
  ListModels(context, nullptr, &models);
  *response->mutable_summary() = models.models(0);
  response->mutable_card()->set_name(kFakeModel);
  return grpc::Status::OK;
}

FakeInferenceServer::FakeInferenceServer() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  EXPECT_NE(server_, nullptr);
  EXPECT_GT(port_, 0);
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(kFakeModel, true);
  health->SetServingStatus("down", false);
}

FakeInferenceServer::~FakeInferenceServer() { Stop(); }

std::string FakeInferenceServer::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void FakeInferenceServer::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown();
  server_->Wait();
  server_.reset();
}

ImageSet MakeFakeImages(int64_t count, uint64_t seed) {
  std::mt19937_64 random(seed);
  ImageSet images;
  images.name = "fake";
  images.channels = 1;
  images.height = 4;
  images.width = 4;
  images.class_names = {"a", "b", "c"};
  images.pixels.assign(count * 16, 0);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t label = static_cast<int64_t>(random() % 3);
    const bool correct = random() % 10 < 7;
    uint8_t* pixels = images.pixels.data() + i * 16;
    pixels[0] =
        static_cast<uint8_t>(correct ? label : (label + 1 + random() % 2) % 3);
    // Correct images get 100..254, wrong ones 0..154: overlapping ranges.
    pixels[1] =
        static_cast<uint8_t>(correct ? 100 + random() % 155 : random() % 155);
    pixels[2] = static_cast<uint8_t>(random() % 256);
    pixels[3] = 0;
    images.labels.push_back(label);
  }
  return images;
}

void WriteIdx(const ImageSet& images, const std::string& folder) {
  std::ofstream pixels(folder + "/t10k-images-idx3-ubyte", std::ios::binary);
  WriteBigEndian(pixels, 0x00000803);
  WriteBigEndian(pixels, static_cast<uint32_t>(images.size()));
  WriteBigEndian(pixels, static_cast<uint32_t>(images.height));
  WriteBigEndian(pixels, static_cast<uint32_t>(images.width));
  pixels.write(reinterpret_cast<const char*>(images.pixels.data()),
               static_cast<std::streamsize>(images.pixels.size()));

  std::ofstream labels(folder + "/t10k-labels-idx1-ubyte", std::ios::binary);
  WriteBigEndian(labels, 0x00000801);
  WriteBigEndian(labels, static_cast<uint32_t>(images.size()));
  for (int64_t label : images.labels) labels.put(static_cast<char>(label));
}

std::string MakeTempFolder(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string folder = absl::StrCat(root != nullptr ? root : "/tmp",
                                    "/rat_client_", name, "_", ::getpid());
  ::mkdir(folder.c_str(), 0755);
  return folder;
}

}  // namespace rat::client::testing
