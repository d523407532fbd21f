// An in-process rat.v1.Inference service with known outputs, on a free
// loopback port, for testing the client without a model.
//
// Every image is uint8 1 x 4 x 4. Pixel 0 modulo 3 is the predicted label,
// pixel 1 / 255 the "good" confidence value, pixel 2 / 255 an unrelated
// value. Each score returns the good value only at its preferred parameters
// (ODIN: T=1.5, eps=2e-4; RR-Fast: T=0.8; other scores: always) and the
// unrelated value elsewhere, so tuning by AURC has one right answer. Pixel
// 3 == 255 makes the whole request fail with INVALID_ARGUMENT.
#ifndef RAT_TESTS_CLIENT_FAKE_INFERENCE_SERVER_H_
#define RAT_TESTS_CLIENT_FAKE_INFERENCE_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "client/image_set.h"
#include "rat/v1/inference.grpc.pb.h"

namespace rat::client::testing {

inline constexpr char kFakeModel[] = "fake";
// MSR threshold of the fake server's decision.
inline constexpr double kFakeThreshold = 0.5;

class FakeInferenceService final : public rat::v1::Inference::Service {
 public:
  grpc::Status Predict(grpc::ServerContext* context,
                       const rat::v1::PredictRequest* request,
                       rat::v1::PredictResponse* response) override;
  grpc::Status ListModels(grpc::ServerContext* context,
                          const rat::v1::ListModelsRequest* request,
                          rat::v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context,
                        const rat::v1::GetModelRequest* request,
                        rat::v1::GetModelResponse* response) override;

  int64_t predict_calls() const { return predict_calls_.load(); }

 private:
  std::atomic<int64_t> predict_calls_{0};
};

// The service on 127.0.0.1 with gRPC's health service: "" and "fake" are
// SERVING, "down" is NOT_SERVING.
class FakeInferenceServer {
 public:
  FakeInferenceServer();
  ~FakeInferenceServer();

  std::string address() const;
  const FakeInferenceService& service() const { return service_; }
  void Stop();

 private:
  FakeInferenceService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Value of score `type` for one image's pixels at `options`, as the fake
// service computes it.
double FakeScore(rat::v1::ScoreType type, const uint8_t* pixels,
                 const rat::v1::ScoreOptions& options);

// `count` images with labels: about 70% predicted correctly, and pixel 1
// larger on correct images (with overlap), from a fixed seed.
ImageSet MakeFakeImages(int64_t count, uint64_t seed = 1);

// Writes `images` as uncompressed IDX files (t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte) into `folder`.
void WriteIdx(const ImageSet& images, const std::string& folder);

// A fresh folder under the test temporary directory.
std::string MakeTempFolder(const std::string& name);

}  // namespace rat::client::testing

#endif  // RAT_TESTS_CLIENT_FAKE_INFERENCE_SERVER_H_
